-- ScreenConnect servers older than 23.9.8 (CVE-2024-1709, CVE-2024-1708),
-- with the service binary's identity. Clients are listed in
-- screenconnect_servers too, with role = 'client'; they are not affected.
SELECT root, version, service_name, service_state, binary_path, binary_sha256,
       signature_status, signer_subject, signer_trusted
FROM screenconnect_servers
WHERE role = 'server' AND vulnerable = 1;
