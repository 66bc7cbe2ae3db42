package source

import (
	"strconv"
	"strings"
	"time"

	"scsweep/extension/events"
)

// Windows Event Log records rendered as JSON: winlogbeat's documents before
// (or without) an ingest pipeline, with the record under winlog.*, and EVTX
// dumps that mirror the XML as {"Event": {"System": ..., "EventData": ...}}.
// Both become a winRecord and go through the shared Sysmon mapping.

// isWinlogRaw is a winlogbeat document whose process fields were never
// filled by a pipeline: the record is still all in winlog.event_data.
func isWinlogRaw(doc map[string]any) bool {
	if _, ok := get(doc, "winlog.event_data").(map[string]any); !ok {
		return false
	}
	return get(doc, "process.executable") == nil && get(doc, "process.name") == nil &&
		get(doc, "process.entity_id") == nil
}

func winlogEvent(doc map[string]any) (*events.Event, string) {
	wr := winlogRecord(doc)
	if wr == nil {
		return nil, "winlog document without event_data"
	}
	return winEvent(wr)
}

// winlogRecord reads winlogbeat's winlog.* fields.
func winlogRecord(doc map[string]any) *winRecord {
	data, ok := get(doc, "winlog.event_data").(map[string]any)
	if !ok {
		return nil
	}
	wr := &winRecord{
		Provider: str(doc, "winlog.provider_name"),
		Channel:  str(doc, "winlog.channel"),
		Computer: str(doc, "winlog.computer_name"),
		RecordID: str(doc, "winlog.record_id"),
		EventID:  -1,
		Data:     make(map[string]string, len(data)),
	}
	id := str(doc, "winlog.event_id")
	if id == "" {
		id = str(doc, "event.code")
	}
	if n, err := strconv.Atoi(id); err == nil {
		wr.EventID = n
	}
	if t, err := time.Parse(time.RFC3339Nano, firstNonEmpty(str(doc, "winlog.time_created"), str(doc, "@timestamp"))); err == nil {
		wr.TimeCreated = t
	}
	for k, v := range data {
		wr.Data[k] = text(v)
	}
	return wr
}

// isEVTXDump is {"Event": {"System": {...}, ...}}.
func isEVTXDump(doc map[string]any) bool {
	ev, ok := doc["Event"].(map[string]any)
	if !ok {
		return false
	}
	_, ok = ev["System"].(map[string]any)
	return ok
}

// evtxDumpEvent reads an EVTX dump, where XML attributes sit under
// "#attributes" and element text under "#text" when an element has both.
func evtxDumpEvent(doc map[string]any) (*events.Event, string) {
	ev := doc["Event"].(map[string]any)
	sys := ev["System"].(map[string]any)
	wr := &winRecord{
		Provider: xmlish(sys, "Provider", "Name"),
		Channel:  xmlish(sys, "Channel", ""),
		Computer: xmlish(sys, "Computer", ""),
		RecordID: xmlish(sys, "EventRecordID", ""),
		EventID:  -1,
		Data:     map[string]string{},
	}
	if n, err := strconv.Atoi(xmlish(sys, "EventID", "")); err == nil {
		wr.EventID = n
	}
	if t, err := time.Parse(time.RFC3339Nano, xmlish(sys, "TimeCreated", "SystemTime")); err == nil {
		wr.TimeCreated = t
	}
	if data, ok := ev["EventData"].(map[string]any); ok {
		for k, v := range data {
			if k == "#attributes" {
				continue
			}
			if k == "Data" {
				// Unflattened <Data Name="..">value</Data> items.
				items, _ := v.([]any)
				for _, it := range items {
					m, ok := it.(map[string]any)
					if !ok {
						continue
					}
					if name := xmlish(map[string]any{"d": m}, "d", "Name"); name != "" {
						wr.Data[name] = xmlish(map[string]any{"d": m}, "d", "")
					}
				}
				continue
			}
			wr.Data[k] = text(v)
		}
	}
	return winEvent(wr)
}

// xmlish reads element el of m: its attribute attr, or its text when attr
// is "". The text may be the value itself, or "#text" / "Value" beside
// "#attributes".
func xmlish(m map[string]any, el, attr string) string {
	v := m[el]
	obj, isObj := v.(map[string]any)
	if attr != "" {
		if !isObj {
			return ""
		}
		if a, ok := obj["#attributes"].(map[string]any); ok {
			if s := text(a[attr]); s != "" {
				return s
			}
		}
		return firstNonEmpty(text(obj[attr]), text(obj["@"+attr]))
	}
	if !isObj {
		return strings.TrimSpace(text(v))
	}
	for _, k := range []string{"#text", "Value", "value"} {
		if s := text(obj[k]); s != "" {
			return s
		}
	}
	return ""
}
