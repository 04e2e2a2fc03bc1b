"""Schools, classes, join codes and memberships (tables), and creating, joining and viewing them (service)."""
