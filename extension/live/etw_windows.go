//go:build windows && (amd64 || arm64)

package live

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"unsafe"

	"golang.org/x/sys/windows"
)

// A real-time ETW session on Microsoft-Windows-Kernel-Process, through
// advapi32's trace API (not wrapped by golang.org/x/sys/windows). The
// structures below are the 64-bit layouts of evntrace.h and evntcons.h.

var (
	procStartTraceW    = advapi32.NewProc("StartTraceW")
	procControlTraceW  = advapi32.NewProc("ControlTraceW")
	procEnableTraceEx2 = advapi32.NewProc("EnableTraceEx2")
	procOpenTraceW     = advapi32.NewProc("OpenTraceW")
	procProcessTrace   = advapi32.NewProc("ProcessTrace")
	procCloseTrace     = advapi32.NewProc("CloseTrace")
)

// kernelProcessProvider is Microsoft-Windows-Kernel-Process.
var kernelProcessProvider = windows.GUID{Data1: 0x22fb2cd6, Data2: 0x0e7b, Data3: 0x422b, Data4: [8]byte{0xa0, 0xc7, 0x2f, 0xad, 0x1f, 0xd0, 0xe7, 0x16}}

const (
	sessionName                  = "scsweep-kernel-process"
	wnodeFlagTracedGUID          = 0x00020000
	eventTraceRealTimeMode       = 0x00000100
	eventTraceControlStop        = 1
	eventControlCodeEnable       = 1
	traceLevelInformation        = 4
	keywordProcess               = 0x10
	processTraceModeRealTime     = 0x00000100
	processTraceModeEventRecord  = 0x10000000
	invalidProcessTraceHandle    = ^uint64(0)
	eventIDProcessStart          = 1
	errorAlreadyExists           = windows.ERROR_ALREADY_EXISTS
	propertiesNameBytes          = 1024
	processCommandLineInfoClass  = 60 // ProcessCommandLineInformation
	statusInfoLengthMismatchCode = 0xC0000004
)

type wnodeHeader struct {
	BufferSize        uint32
	ProviderID        uint32
	HistoricalContext uint64
	TimeStamp         int64
	GUID              windows.GUID
	ClientContext     uint32
	Flags             uint32
}

type eventTraceProperties struct {
	Wnode               wnodeHeader
	BufferSize          uint32
	MinimumBuffers      uint32
	MaximumBuffers      uint32
	MaximumFileSize     uint32
	LogFileMode         uint32
	FlushTimer          uint32
	EnableFlags         uint32
	AgeLimit            int32
	NumberOfBuffers     uint32
	FreeBuffers         uint32
	EventsLost          uint32
	BuffersWritten      uint32
	LogBuffersLost      uint32
	RealTimeBuffersLost uint32
	LoggerThreadID      uintptr
	LogFileNameOffset   uint32
	LoggerNameOffset    uint32
}

type eventTrace struct {
	Header           [48]byte
	InstanceID       uint32
	ParentInstanceID uint32
	ParentGUID       windows.GUID
	MofData          uintptr
	MofLength        uint32
	ClientContext    uint32
}

type traceLogfileHeader struct {
	BufferSize         uint32
	Version            uint32
	ProviderVersion    uint32
	NumberOfProcessors uint32
	EndTime            int64
	TimerResolution    uint32
	MaximumFileSize    uint32
	LogFileMode        uint32
	BuffersWritten     uint32
	LogInstanceGUID    windows.GUID
	LoggerName         uintptr
	LogFileName        uintptr
	TimeZone           [172]byte
	BootTime           int64
	PerfFreq           int64
	StartTime          int64
	ReservedFlags      uint32
	BuffersLost        uint32
}

type eventTraceLogfile struct {
	LogFileName      *uint16
	LoggerName       *uint16
	CurrentTime      int64
	BuffersRead      uint32
	ProcessTraceMode uint32
	CurrentEvent     eventTrace
	LogfileHeader    traceLogfileHeader
	BufferCallback   uintptr
	BufferSize       uint32
	Filled           uint32
	EventsLost       uint32
	EventCallback    uintptr
	IsKernelTrace    uint32
	Context          uintptr
}

type eventRecord struct {
	Size           uint16
	HeaderType     uint16
	Flags          uint16
	EventProperty  uint16
	ThreadID       uint32
	ProcessID      uint32
	TimeStamp      int64
	ProviderID     windows.GUID
	ID             uint16
	Version        uint8
	Channel        uint8
	Level          uint8
	Opcode         uint8
	Task           uint16
	Keyword        uint64
	ProcessorTime  uint64
	ActivityID     windows.GUID
	BufferContext  uint32
	ExtendedCount  uint16
	UserDataLength uint16
	ExtendedData   uintptr
	UserData       unsafe.Pointer
	UserContext    uintptr
}

// One callback serves every session: windows.NewCallback slots are never
// freed, so it is made once and finds the running session here.
var (
	callbackOnce sync.Once
	callback     uintptr
	activeMu     sync.Mutex
	active       func(KernelRecord)
)

func onEvent(rec *eventRecord) uintptr {
	if rec.ID != eventIDProcessStart || rec.ProviderID != kernelProcessProvider {
		return 0
	}
	data := unsafe.Slice((*byte)(rec.UserData), rec.UserDataLength)
	r := KernelRecord{Version: rec.Version, Data: append([]byte(nil), data...)}
	if len(data) >= 4 {
		r.CommandLine = commandLine(*(*uint32)(rec.UserData))
	}
	activeMu.Lock()
	fn := active
	activeMu.Unlock()
	if fn != nil {
		fn(r)
	}
	return 0
}

type kernelTrace struct{}

func newKernelTrace() KernelTrace { return kernelTrace{} }

// Probe starts and stops a session: only that tells whether this process
// may (administrators and SYSTEM may) and whether the name is free.
func (kernelTrace) Probe() error {
	h, err := startSession()
	if err != nil {
		return err
	}
	stopSession(h)
	return nil
}

func newProperties() (*eventTraceProperties, []byte) {
	buf := make([]byte, unsafe.Sizeof(eventTraceProperties{})+propertiesNameBytes)
	p := (*eventTraceProperties)(unsafe.Pointer(&buf[0]))
	p.Wnode.BufferSize = uint32(len(buf))
	p.Wnode.Flags = wnodeFlagTracedGUID
	p.Wnode.ClientContext = 1 // QueryPerformanceCounter timestamps
	p.LogFileMode = eventTraceRealTimeMode
	p.LoggerNameOffset = uint32(unsafe.Sizeof(eventTraceProperties{}))
	return p, buf
}

// startSession starts the named session, stopping a leftover one of ours
// (from a crash) first.
func startSession() (uint64, error) {
	name, _ := windows.UTF16PtrFromString(sessionName)
	for attempt := 0; ; attempt++ {
		p, _ := newProperties()
		var h uint64
		r, _, _ := procStartTraceW.Call(uintptr(unsafe.Pointer(&h)), uintptr(unsafe.Pointer(name)), uintptr(unsafe.Pointer(p)))
		if r == 0 {
			return h, nil
		}
		if windows.Errno(r) == errorAlreadyExists && attempt == 0 {
			q, _ := newProperties()
			procControlTraceW.Call(0, uintptr(unsafe.Pointer(name)), uintptr(unsafe.Pointer(q)), eventTraceControlStop)
			continue
		}
		return 0, fmt.Errorf("StartTrace: %w", windows.Errno(r))
	}
}

func stopSession(h uint64) {
	p, _ := newProperties()
	procControlTraceW.Call(uintptr(h), 0, uintptr(unsafe.Pointer(p)), eventTraceControlStop)
}

func (kernelTrace) Run(ctx context.Context, fn func(KernelRecord)) error {
	callbackOnce.Do(func() { callback = windows.NewCallback(onEvent) })
	h, err := startSession()
	if err != nil {
		return err
	}
	defer stopSession(h)
	guid := kernelProcessProvider
	r, _, _ := procEnableTraceEx2.Call(uintptr(h), uintptr(unsafe.Pointer(&guid)), eventControlCodeEnable,
		traceLevelInformation, keywordProcess, 0, 0, 0)
	if r != 0 {
		return fmt.Errorf("EnableTraceEx2: %w", windows.Errno(r))
	}
	name, _ := windows.UTF16PtrFromString(sessionName)
	lf := eventTraceLogfile{
		LoggerName:       name,
		ProcessTraceMode: processTraceModeRealTime | processTraceModeEventRecord,
		EventCallback:    callback,
	}
	th, _, err := procOpenTraceW.Call(uintptr(unsafe.Pointer(&lf)))
	if uint64(th) == invalidProcessTraceHandle {
		return fmt.Errorf("OpenTrace: %w", err)
	}
	activeMu.Lock()
	if active != nil {
		activeMu.Unlock()
		procCloseTrace.Call(th)
		return errors.New("a kernel session is already running in this process")
	}
	active = fn
	activeMu.Unlock()
	defer func() {
		activeMu.Lock()
		active = nil
		activeMu.Unlock()
	}()
	done := make(chan error, 1)
	go func() {
		r, _, _ := procProcessTrace.Call(uintptr(unsafe.Pointer(&th)), 1, 0, 0)
		if r != 0 {
			done <- fmt.Errorf("ProcessTrace: %w", windows.Errno(r))
			return
		}
		done <- nil
	}()
	select {
	case <-ctx.Done():
		procCloseTrace.Call(th)
		<-done
		return ctx.Err()
	case err := <-done:
		procCloseTrace.Call(th)
		return err
	}
}

// Drives maps each drive letter's NT device to the letter.
func (kernelTrace) Drives() (map[string]string, error) {
	m := map[string]string{}
	buf := make([]uint16, 1024)
	for l := 'A'; l <= 'Z'; l++ {
		name, _ := windows.UTF16PtrFromString(string(l) + ":")
		n, err := windows.QueryDosDevice(name, &buf[0], uint32(len(buf)))
		if err != nil || n == 0 {
			continue
		}
		m[windows.UTF16ToString(buf[:n])] = string(l) + ":"
	}
	if len(m) == 0 {
		return nil, errors.New("QueryDosDevice found no drive")
	}
	return m, nil
}

// commandLine reads a running process's command line; "" when it exited
// or cannot be opened.
func commandLine(pid uint32) string {
	h, err := windows.OpenProcess(windows.PROCESS_QUERY_LIMITED_INFORMATION, false, pid)
	if err != nil {
		return ""
	}
	defer windows.CloseHandle(h)
	size := uint32(512)
	for i := 0; i < 4; i++ {
		buf := make([]byte, size)
		var ret uint32
		err := windows.NtQueryInformationProcess(h, processCommandLineInfoClass, unsafe.Pointer(&buf[0]), size, &ret)
		if err == nil {
			return (*windows.NTUnicodeString)(unsafe.Pointer(&buf[0])).String()
		}
		if st, ok := err.(windows.NTStatus); !ok || uint32(st) != statusInfoLengthMismatchCode || ret <= size {
			return ""
		}
		size = ret
	}
	return ""
}
