-- Files under App_Extensions that CVE-2024-1708 (the extension path
-- traversal) would leave: ASP.NET files loose in the root or outside a GUID
-- folder, extension folders without a manifest, zip entries that climb out.
SELECT root, relative_path, kind, aspnet, guid_scoped, has_manifest, size,
       datetime(mtime, 'unixepoch') AS modified, sha256, suspicion
FROM screenconnect_extensions
WHERE suspicion != ''
ORDER BY mtime DESC;
