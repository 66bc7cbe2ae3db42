-- requires: osquery (process_open_sockets and processes are osquery tables)
-- Network connections of processes that ScreenConnect.Service.exe started
-- and that still run: the guide's "network activity of the child".
SELECT c.pid, c.name, c.path, c.cmdline, s.protocol, s.local_port,
       s.remote_address, s.remote_port, s.state
FROM processes AS c
JOIN process_open_sockets AS s USING (pid)
WHERE c.parent IN (SELECT pid FROM processes WHERE name = 'ScreenConnect.Service.exe')
  AND s.remote_address NOT IN ('', '0.0.0.0', '::', '127.0.0.1', '::1');
