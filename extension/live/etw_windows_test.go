//go:build windows && (amd64 || arm64)

package live

import (
	"testing"
	"unsafe"
)

// The trace structures must have the sizes and offsets of the 64-bit
// Windows headers, or the API reads and writes the wrong bytes.
func TestTraceLayouts(t *testing.T) {
	tests := []struct {
		name      string
		got, want uintptr
	}{
		{"sizeof EVENT_TRACE_PROPERTIES", unsafe.Sizeof(eventTraceProperties{}), 120},
		{"sizeof EVENT_TRACE", unsafe.Sizeof(eventTrace{}), 88},
		{"sizeof TRACE_LOGFILE_HEADER", unsafe.Sizeof(traceLogfileHeader{}), 280},
		{"sizeof EVENT_TRACE_LOGFILEW", unsafe.Sizeof(eventTraceLogfile{}), 448},
		{"offsetof EVENT_TRACE_LOGFILEW.EventRecordCallback", unsafe.Offsetof(eventTraceLogfile{}.EventCallback), 424},
		{"sizeof EVENT_RECORD", unsafe.Sizeof(eventRecord{}), 112},
		{"offsetof EVENT_RECORD.UserData", unsafe.Offsetof(eventRecord{}.UserData), 96},
		{"offsetof EVENT_RECORD.EventDescriptor.Version", unsafe.Offsetof(eventRecord{}.Version), 42},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("%s: got %d, want %d", tc.name, tc.got, tc.want)
		}
	}
}
