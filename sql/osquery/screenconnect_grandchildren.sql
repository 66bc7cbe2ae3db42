-- What the suspicious children started in turn (the guide asks for other
-- children of the child): starts whose ancestry names ScreenConnect.Service.exe
-- as a grandparent or beyond.
SELECT datetime(time, 'unixepoch') AS started, name, pe_original_file_name,
       parent_name, cmdline, path, sha256, signature_status, ancestry
FROM process_lineage_events
WHERE ancestry LIKE '%"name":"ScreenConnect.Service.exe"%'
  AND parent_name NOT LIKE 'screenconnect.service.exe'
ORDER BY time;
