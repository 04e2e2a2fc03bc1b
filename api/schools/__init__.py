"""Schools and classes over HTTP: /schools, /classes (join codes, a teacher's view)."""
