package schema

// The ScreenConnect tables report the state of a ScreenConnect server's own
// files, the evidence the investigation guide asks for beside a process
// alert: the install and its version (CVE-2024-1709 and CVE-2024-1708 are
// fixed in 23.9.8), the users of App_Data\User.xml (an administrator the
// setup wizard bypass added), the content of App_Extensions (a web shell the
// extension path traversal planted) and the temporary user database files
// the setup wizard leaves in C:\Windows\Temp\ScreenConnect\<version>\.

// ScreenConnectServers is one row per ScreenConnect install found on the host.
var ScreenConnectServers = Table{
	Name:        "screenconnect_servers",
	Description: "ScreenConnect installs found through the service registry, the default install folders and configured roots: version, vulnerability to CVE-2024-1709/1708, service binary identity and state. A host with only the ScreenConnect client gets a row whose role is client.",
	Columns: []Column{
		{Name: "root", Type: Text, Pushdown: true, Description: "Install folder (the folder holding ScreenConnect.Service.exe, App_Data and App_Extensions)"},
		{Name: "role", Type: Text, Description: "server for a ScreenConnect server install (ScreenConnect.Service.exe), client for the client agent alone (ScreenConnect.ClientService.exe, ScreenConnect.WindowsClient.exe), empty when a configured root holds neither"},
		{Name: "found_by", Type: Text, Description: "How the install was found, comma separated: service, default, root"},
		{Name: "version", Type: Text, ECS: "package.version", Description: "Numeric version from the binary's FileVersion (ProductVersion when FileVersion is missing), e.g. 23.9.7.8804"},
		{Name: "vulnerable", Type: Integer, Kind: KindBool, Description: "1 when a server older than 23.9.8 (CVE-2024-1709, CVE-2024-1708), 0 when 23.9.8 or newer, empty for clients and unknown versions"},
		{Name: "service_name", Type: Text, ECS: "service.name", Description: "Windows service name, e.g. ScreenConnect Web Server; empty when not found through the service registry"},
		{Name: "service_display_name", Type: Text, Description: "Windows service display name"},
		{Name: "service_state", Type: Text, ECS: "service.state", Description: "Service state where the OS tells: running, stopped, start_pending, ..."},
		{Name: "service_start_type", Type: Text, Description: "Service start type: auto, demand, disabled, ..."},
		{Name: "binary_path", Type: Text, ECS: "file.path", Description: "Path of the service binary (ScreenConnect.Service.exe, or the client binary for client rows)"},
		{Name: "binary_sha256", Type: Text, ECS: "file.hash.sha256", Description: "SHA-256 of the service binary"},
		{Name: "original_file_name", Type: Text, ECS: "file.pe.original_file_name", Description: "OriginalFilename from the binary's version resource"},
		{Name: "company", Type: Text, ECS: "file.pe.company", Description: "CompanyName from the binary's version resource"},
		{Name: "signature_status", Type: Text, ECS: "file.code_signature.status", Description: "Authenticode status of the service binary: unsigned, signed (digest matches, chain not checked), errorBadDigest, or what the PE identity reader reports"},
		{Name: "signer_subject", Type: Text, ECS: "file.code_signature.subject_name", Description: "Signer certificate subject of the service binary"},
		{Name: "signer_issuer", Type: Text, Description: "Signer certificate issuer of the service binary"},
		{Name: "signer_trusted", Type: Integer, ECS: "file.code_signature.trusted", Kind: KindBool, Description: "1 when the signature chains to a trusted root, 0 when not, empty when not checked"},
		{Name: "error", Type: Text, ECS: "error.message", Description: "Why part of the row is missing (binary unreadable, no install under a configured root, ...); empty when none"},
	},
}

// ScreenConnectUsers is one row per user of a server's user database.
var ScreenConnectUsers = Table{
	Name:        "screenconnect_users",
	Description: "Users of each ScreenConnect server's App_Data\\User.xml (or Users.xml): roles, administrator, creation and last login, and when scsweep first saw the user on this host. A malformed file gives a row with error set.",
	Columns: []Column{
		{Name: "root", Type: Text, Pushdown: true, Description: "Install folder of the server the file belongs to"},
		{Name: "path", Type: Text, Pushdown: true, ECS: "file.path", Description: "Path of the user database file"},
		{Name: "name", Type: Text, ECS: "user.name", Description: "User name"},
		{Name: "display_name", Type: Text, ECS: "user.full_name", Description: "Display name, when the file has one"},
		{Name: "email", Type: Text, ECS: "user.email", Description: "Email address"},
		{Name: "roles", Type: Text, ECS: "user.roles", Description: "Roles, comma separated, as written in the file"},
		{Name: "is_admin", Type: Integer, Kind: KindBool, Description: "1 when a role is Administrator (any case), 0 otherwise"},
		{Name: "is_approved", Type: Text, Description: "IsApproved as written in the file (true/false), empty when absent"},
		{Name: "is_locked_out", Type: Text, Description: "IsLockedOut as written in the file (true/false), empty when absent"},
		{Name: "created", Type: Text, Description: "CreationDate as written in the file (.NET round-trip format)"},
		{Name: "last_login", Type: Text, Description: "LastLoginDate as written in the file; empty when the user never logged in (0001-01-01T00:00:00)"},
		{Name: "file_mtime", Type: BigInt, ECS: "file.mtime", Kind: KindUnixTime, Description: "Modification time of the user database file, unix seconds"},
		{Name: "file_sha256", Type: Text, ECS: "file.hash.sha256", Description: "SHA-256 of the user database file"},
		{Name: "first_seen", Type: BigInt, Kind: KindUnixTime, Description: "When scsweep first saw this user in this install on this host, unix seconds; empty when no store is configured"},
		{Name: "error", Type: Text, ECS: "error.message", Description: "Why the file could not be read or parsed in full; the row then carries no user, or the users before the fault come first"},
	},
}

// ScreenConnectExtensions is one row per file under a server's App_Extensions.
var ScreenConnectExtensions = Table{
	Name:        "screenconnect_extensions",
	Description: "Every file under each ScreenConnect server's App_Extensions, links (not followed), and zip entries that climb out of their folder (read, never extracted), with the reason a file looks planted (CVE-2024-1708 web shells). A walk cut short by its bounds ends with a row of kind incomplete.",
	Columns: []Column{
		{Name: "root", Type: Text, Pushdown: true, Description: "Install folder of the server"},
		{Name: "path", Type: Text, Pushdown: true, ECS: "file.path", Description: "Full path of the file; for a zip entry, the archive's path"},
		{Name: "relative_path", Type: Text, Description: "Path under App_Extensions with / separators; for a zip entry, the entry name as stored in the archive"},
		{Name: "kind", Type: Text, ECS: "file.type", Description: "file, symlink (symbolic link or junction, not followed), special (pipe, socket, device: not opened), dir (a folder that could not be read), zip_entry, or incomplete (the walk stopped early)"},
		{Name: "archive", Type: Text, Description: "For zip entries: relative path of the archive holding the entry"},
		{Name: "extension_folder", Type: Text, Description: "Top-level folder under App_Extensions the file sits in; empty for files in the App_Extensions root"},
		{Name: "extension_name", Type: Text, Description: "Name from the extension folder's Manifest.xml; empty without one"},
		{Name: "guid_scoped", Type: Integer, Kind: KindBool, Description: "1 when the top-level folder is named by a GUID (how ScreenConnect installs extensions)"},
		{Name: "aspnet", Type: Integer, Kind: KindBool, Description: "1 for ASP.NET content: .aspx .ashx .asmx .ascx .asax .cshtml .config"},
		{Name: "has_manifest", Type: Integer, Kind: KindBool, Description: "1 when the file's extension folder holds a Manifest.xml"},
		{Name: "size", Type: BigInt, ECS: "file.size", Kind: KindInt, Description: "Size in bytes (uncompressed size for zip entries)"},
		{Name: "mtime", Type: BigInt, ECS: "file.mtime", Kind: KindUnixTime, Description: "Modification time, unix seconds"},
		{Name: "sha256", Type: Text, ECS: "file.hash.sha256", Description: "SHA-256 of the file; empty above the hashing size cap and for links and zip entries"},
		{Name: "link_target", Type: Text, Description: "Target of a symbolic link or junction, as stored"},
		{Name: "suspicion", Type: Text, Description: "Why the file looks planted, reasons joined by '; ' (loose aspnet file in App_Extensions root, aspnet file outside a GUID folder, extension folder without manifest, aspnet file not named by its extension manifest, archive with entries that climb out of their folder, ...); empty when nothing stands out"},
		{Name: "error", Type: Text, ECS: "error.message", Description: "Why the file could not be read in full (for a Manifest.xml, why it could not be parsed), or why the walk stopped"},
	},
}

// ScreenConnectSetupFiles is one row per file the setup wizard left in
// Temp\ScreenConnect\<version>\, where CVE-2024-1709 exploitation writes the
// temporary user database holding the attacker's administrator.
var ScreenConnectSetupFiles = Table{
	Name:        "screenconnect_setup_files",
	Description: "Files under Windows\\Temp\\ScreenConnect\\<version>\\, the temporary user databases the setup wizard writes (CVE-2024-1709 exploitation leaves one naming the added administrator); users named in XML files are listed.",
	Columns: []Column{
		{Name: "path", Type: Text, Pushdown: true, ECS: "file.path", Description: "Full path of the file"},
		{Name: "version", Type: Text, Description: "Name of the version folder, e.g. 23.9.7.8804"},
		{Name: "size", Type: BigInt, ECS: "file.size", Kind: KindInt, Description: "Size in bytes"},
		{Name: "mtime", Type: BigInt, ECS: "file.mtime", Kind: KindUnixTime, Description: "Modification time, unix seconds"},
		{Name: "sha256", Type: Text, ECS: "file.hash.sha256", Description: "SHA-256 of the file (empty above the hashing size cap)"},
		{Name: "users", Type: Text, Description: "For a user database XML file: the user names in it, comma separated"},
		{Name: "admins", Type: Text, Description: "For a user database XML file: the names of users holding the Administrator role, comma separated"},
		{Name: "error", Type: Text, ECS: "error.message", Description: "Why the file could not be read or parsed, or why the walk stopped"},
	},
}

func init() {
	register(&ScreenConnectServers)
	register(&ScreenConnectUsers)
	register(&ScreenConnectExtensions)
	register(&ScreenConnectSetupFiles)
}
