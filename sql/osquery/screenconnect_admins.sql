-- Administrators of every ScreenConnect server, newest first by when scsweep
-- first saw them. CVE-2024-1709 (the setup wizard bypass) adds one: an admin
-- first seen after the server was installed, never logged in or created in
-- February 2024, is the first thing to ask about.
SELECT root, name, email, roles, created, last_login,
       datetime(first_seen, 'unixepoch') AS first_seen, path, file_sha256
FROM screenconnect_users
WHERE is_admin = 1
ORDER BY first_seen DESC;
