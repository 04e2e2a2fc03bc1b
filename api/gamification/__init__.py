"""Points, badges, challenges and leaderboards over HTTP (/me/points, /me/badges, /badges, /challenges,
/leaderboards)."""
