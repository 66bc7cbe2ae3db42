package schema

// ScsweepStatus says where this host's process starts come from: one row
// per live source, with the facts of the event store beside each, so a
// sweep can tell "no alert" from "no data".
var ScsweepStatus = Table{
	Name:        "scsweep_status",
	Description: "Process start sources on this host: one row per live source (sysmon, security, etw) saying whether it runs and why or why not; every row also gives the event store's totals (events held, oldest event, size).",
	Columns: []Column{
		{Name: "source", Type: Text, Description: "Live source, as the source column of process_lineage_events names its rows: sysmon, security, etw"},
		{Name: "active", Type: Integer, Kind: KindBool, Description: "1 when the extension collects this source live now, 0 otherwise"},
		{Name: "reason", Type: Text, Description: "Why the source is active, or why it is not (Sysmon not installed, 4688 auditing off, not needed, not Windows)"},
		{Name: "collected", Type: BigInt, Kind: KindInt, Description: "Process starts written by live collection since the extension started"},
		{Name: "skipped", Type: BigInt, Kind: KindInt, Description: "Records live collection read but could not import since the extension started"},
		{Name: "last_error", Type: Text, Description: "The source's last error, empty once it recovered"},
		{Name: "last_write", Type: BigInt, Kind: KindUnixTime, Description: "When live collection last wrote events of this source, unix seconds"},
		{Name: "store_events", Type: BigInt, Kind: KindInt, Description: "Events in the store, all sources"},
		{Name: "store_oldest", Type: BigInt, Kind: KindUnixTime, Description: "Start time of the oldest event held: the sweeper cannot look further back on this host"},
		{Name: "store_bytes", Type: BigInt, Kind: KindInt, Description: "Size of the event store database, bytes"},
	},
}

func init() {
	register(&ScsweepStatus)
}
