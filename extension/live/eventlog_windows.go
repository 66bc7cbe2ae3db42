package live

import (
	"errors"
	"fmt"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/registry"
)

// The Event Log API (wevtapi.dll), which golang.org/x/sys/windows does not
// wrap. Only what the subscription needs is loaded.
var (
	wevtapi              = windows.NewLazySystemDLL("wevtapi.dll")
	procEvtSubscribe     = wevtapi.NewProc("EvtSubscribe")
	procEvtNext          = wevtapi.NewProc("EvtNext")
	procEvtRender        = wevtapi.NewProc("EvtRender")
	procEvtClose         = wevtapi.NewProc("EvtClose")
	procEvtCreateBm      = wevtapi.NewProc("EvtCreateBookmark")
	procEvtUpdateBm      = wevtapi.NewProc("EvtUpdateBookmark")
	procEvtOpenLog       = wevtapi.NewProc("EvtOpenLog")
	advapi32             = windows.NewLazySystemDLL("advapi32.dll")
	procAuditQuerySystem = advapi32.NewProc("AuditQuerySystemPolicy")
	procAuditFree        = advapi32.NewProc("AuditFree")
)

const (
	evtSubscribeToFutureEvents      = 1
	evtSubscribeStartAtOldestRecord = 2
	evtSubscribeStartAfterBookmark  = 3
	evtRenderEventXML               = 1
	evtRenderBookmark               = 2
	evtOpenChannelPath              = 1
	// policyAuditEventSuccess is the success bit of AuditingInformation.
	policyAuditEventSuccess = 1
)

// auditProcessCreation is the "Process Creation" audit subcategory.
var auditProcessCreation = windows.GUID{Data1: 0x0cce922b, Data2: 0x69ae, Data3: 0x11d9, Data4: [8]byte{0xbe, 0xd3, 0x50, 0x50, 0x54, 0x50, 0x30, 0x30}}

type evtHandle uintptr

func evtClose(h evtHandle) {
	if h != 0 {
		procEvtClose.Call(uintptr(h))
	}
}

// eventLog is the EventLog of this host.
type eventLog struct{}

func (eventLog) Probe(channel string) error {
	if err := wevtapi.Load(); err != nil {
		return err
	}
	p, err := windows.UTF16PtrFromString(channel)
	if err != nil {
		return err
	}
	h, _, err := procEvtOpenLog.Call(0, uintptr(unsafe.Pointer(p)), evtOpenChannelPath)
	if h == 0 {
		return err
	}
	evtClose(evtHandle(h))
	return nil
}

func (eventLog) Audit() (Audit, error) {
	var a Audit
	var info *struct {
		Sub      windows.GUID
		Auditing uint32
		Category windows.GUID
	}
	sub := auditProcessCreation
	r, _, err := procAuditQuerySystem.Call(uintptr(unsafe.Pointer(&sub)), 1, uintptr(unsafe.Pointer(&info)))
	if r == 0 || info == nil {
		return a, fmt.Errorf("AuditQuerySystemPolicy: %w", err)
	}
	a.ProcessCreation = info.Auditing&policyAuditEventSuccess != 0
	procAuditFree.Call(uintptr(unsafe.Pointer(info)))
	k, err := registry.OpenKey(registry.LOCAL_MACHINE, `SOFTWARE\Microsoft\Windows\CurrentVersion\Policies\System\Audit`, registry.QUERY_VALUE)
	if err == nil {
		v, _, err := k.GetIntegerValue("ProcessCreationIncludeCmdLine_Enabled")
		a.CommandLine = err == nil && v == 1
		k.Close()
	}
	return a, nil
}

func (eventLog) Subscribe(channel, query, bookmark string) (Subscription, error) {
	s := &subscription{}
	var err error
	if s.signal, err = windows.CreateEvent(nil, 1, 1, nil); err != nil {
		return nil, fmt.Errorf("CreateEvent: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			s.Close()
		}
	}()
	var bmXML *uint16
	flags := uintptr(evtSubscribeStartAtOldestRecord)
	if bookmark != "" {
		if bmXML, err = windows.UTF16PtrFromString(bookmark); err != nil {
			return nil, err
		}
		flags = evtSubscribeStartAfterBookmark
	}
	h, _, err := procEvtCreateBm.Call(uintptr(unsafe.Pointer(bmXML)))
	if h == 0 {
		if bookmark != "" {
			return nil, fmt.Errorf("EvtCreateBookmark: %w: %w", ErrBadBookmark, err)
		}
		return nil, fmt.Errorf("EvtCreateBookmark: %w", err)
	}
	s.bookmark = evtHandle(h)
	ch, err := windows.UTF16PtrFromString(channel)
	if err != nil {
		return nil, err
	}
	q, err := windows.UTF16PtrFromString(query)
	if err != nil {
		return nil, err
	}
	var bmArg uintptr
	if bookmark != "" {
		bmArg = uintptr(s.bookmark)
	}
	h, _, err = procEvtSubscribe.Call(0, uintptr(s.signal), uintptr(unsafe.Pointer(ch)), uintptr(unsafe.Pointer(q)),
		bmArg, 0, 0, flags)
	if h == 0 {
		return nil, fmt.Errorf("EvtSubscribe: %w", err)
	}
	s.sub = evtHandle(h)
	ok = true
	return s, nil
}

// subscription is a pull subscription: EvtNext until it says no more
// items, then a wait on the signal event.
type subscription struct {
	signal   windows.Handle
	sub      evtHandle
	bookmark evtHandle
	buf      []uint16
}

func (s *subscription) Next(max int, wait time.Duration) (Batch, error) {
	var b Batch
	handles := make([]evtHandle, max)
	var n uint32
	r, _, err := procEvtNext.Call(uintptr(s.sub), uintptr(max), uintptr(unsafe.Pointer(&handles[0])), 0, 0, uintptr(unsafe.Pointer(&n)))
	if r == 0 {
		if errors.Is(err, windows.ERROR_NO_MORE_ITEMS) {
			windows.ResetEvent(s.signal)
			if _, err := windows.WaitForSingleObject(s.signal, uint32(wait/time.Millisecond)); err != nil {
				return b, fmt.Errorf("WaitForSingleObject: %w", err)
			}
			return b, nil
		}
		return b, fmt.Errorf("EvtNext: %w", err)
	}
	defer func() {
		for _, h := range handles[:n] {
			evtClose(h)
		}
	}()
	for _, h := range handles[:n] {
		x, err := s.render(h, evtRenderEventXML)
		if err != nil {
			return b, err
		}
		b.Events = append(b.Events, []byte(x))
		if r, _, err := procEvtUpdateBm.Call(uintptr(s.bookmark), uintptr(h)); r == 0 {
			return b, fmt.Errorf("EvtUpdateBookmark: %w", err)
		}
	}
	bm, err := s.render(s.bookmark, evtRenderBookmark)
	if err != nil {
		return b, err
	}
	b.Bookmark = bm
	return b, nil
}

// render renders an event or a bookmark as XML.
func (s *subscription) render(h evtHandle, flags uintptr) (string, error) {
	for {
		var used, props uint32
		var p uintptr
		if len(s.buf) > 0 {
			p = uintptr(unsafe.Pointer(&s.buf[0]))
		}
		r, _, err := procEvtRender.Call(0, uintptr(h), flags, uintptr(len(s.buf)*2), p,
			uintptr(unsafe.Pointer(&used)), uintptr(unsafe.Pointer(&props)))
		if r != 0 {
			return windows.UTF16ToString(s.buf[:used/2]), nil
		}
		if !errors.Is(err, windows.ERROR_INSUFFICIENT_BUFFER) {
			return "", fmt.Errorf("EvtRender: %w", err)
		}
		s.buf = make([]uint16, used/2+1)
	}
}

func (s *subscription) Close() error {
	evtClose(s.sub)
	evtClose(s.bookmark)
	if s.signal != 0 {
		windows.CloseHandle(s.signal)
	}
	s.sub, s.bookmark, s.signal = 0, 0, 0
	return nil
}

// Platform returns this host's Event Log and kernel trace layers.
func Platform() (EventLog, KernelTrace, string) {
	return eventLog{}, newKernelTrace(), ""
}
