package cputime

import (
	"bytes"
	"os"
	"strconv"
	"time"
)

// Of returns the CPU time another process (a child under test) has used so
// far, from /proc; false when it cannot be read.
func Of(pid int) (time.Duration, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	// The command name may hold spaces; the fields after it are fixed.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, false
	}
	f := bytes.Fields(b[i+1:])
	// After the name: state is field 3 of stat(5), utime 14 and stime 15.
	if len(f) < 13 {
		return 0, false
	}
	ut, err1 := strconv.ParseInt(string(f[11]), 10, 64)
	st, err2 := strconv.ParseInt(string(f[12]), 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	// /proc reports clock ticks at USER_HZ, 100 on every Linux.
	return time.Duration(ut+st) * 10 * time.Millisecond, true
}
