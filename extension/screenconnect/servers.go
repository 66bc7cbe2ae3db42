package screenconnect

import (
	"context"
	"strings"
)

// Servers returns one row of screenconnect_servers per install found: a
// server, a client-only install (role client, so a hunter sees the host was
// looked at and holds only the agent), or a configured root that holds
// neither (role empty, error set).
func Servers(ctx context.Context, opts Options) ([]map[string]string, error) {
	o := opts.withDefaults()
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	f := discover(ctx, o)
	rows := make([]map[string]string, 0, len(f.installs))
	for _, in := range f.installs {
		if err := ctx.Err(); err != nil {
			return rows, err
		}
		rows = append(rows, serverRow(ctx, o, in))
	}
	// A service registry that could not be read leaves installs unseen:
	// say so in a row rather than let the table look complete.
	for _, e := range f.errs {
		row := serverRow(ctx, o, &install{err: e})
		rows = append(rows, row)
	}
	return rows, nil
}

func serverRow(ctx context.Context, o Options, in *install) map[string]string {
	row := map[string]string{
		"root": in.root, "role": in.role, "found_by": strings.Join(in.foundBy, ","),
		"version": "", "vulnerable": "",
		"service_name": "", "service_display_name": "", "service_state": "", "service_start_type": "",
		"binary_path": in.binary, "binary_sha256": "", "original_file_name": "", "company": "",
		"signature_status": "", "signer_subject": "", "signer_issuer": "", "signer_trusted": "",
		"error": in.err,
	}
	if s := in.service; s != nil {
		row["service_name"] = s.Name
		row["service_display_name"] = s.DisplayName
		row["service_state"] = s.State
		row["service_start_type"] = s.StartType
	}
	if in.role == "" {
		return row
	}
	if in.binary == "" {
		row["error"] = joinErr(row["error"], serverBinary+" not found in the install folder")
		return row
	}
	id, err := o.Identify(ctx, in.binary)
	if err != nil {
		row["error"] = joinErr(row["error"], err.Error())
	}
	v := ParseVersion(id.FileVersion)
	if v == nil {
		v = ParseVersion(id.ProductVersion)
	}
	if v != nil {
		row["version"] = formatVersion(v)
		if in.role == "server" {
			row["vulnerable"] = Vulnerable(row["version"])
		}
	}
	row["binary_sha256"] = id.SHA256
	row["original_file_name"] = id.OriginalFileName
	row["company"] = id.CompanyName
	row["signature_status"] = id.SignatureStatus
	row["signer_subject"] = id.SignerSubject
	row["signer_issuer"] = id.SignerIssuer
	row["signer_trusted"] = id.SignerTrusted
	return row
}
