-- ScreenConnect server spawning a shell or compiler: the osquery form of
-- Elastic's rule 3d00feab-e203-4acc-a463-c3e15b7e9a73. `:` in EQL is a
-- case-insensitive whole-string match, which LIKE without wildcards is;
-- `in` on the original file name is case-sensitive, which IN is.
SELECT datetime(time, 'unixepoch') AS started, name, pe_original_file_name,
       parent_name, parent_pid, cmdline, path, sha256, signature_status
FROM process_lineage_events
WHERE os_type = 'windows'
  AND parent_name LIKE 'screenconnect.service.exe'
  AND (name LIKE 'cmd.exe' OR name LIKE 'powershell.exe' OR name LIKE 'pwsh.exe'
       OR name LIKE 'powershell_ise.exe' OR name LIKE 'csc.exe'
       OR pe_original_file_name IN ('Cmd.Exe', 'PowerShell.EXE', 'pwsh.dll', 'powershell_ise.EXE', 'csc.exe'))
ORDER BY time;
