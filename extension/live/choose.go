package live

import (
	"context"
	"errors"
	"fmt"
)

var errNoSource = errors.New("live: no process start source on this host (no Sysmon, no 4688 auditing, no ETW session)")

// choose decides which sources run and records why the others do not.
// Sysmon and 4688 both run where present (each is its own row source, as
// each is its own index for the rule); the ETW session, which lacks hashes,
// user and parent command line, runs only where neither does.
func (c *Collector) choose() []func(context.Context) {
	if c.cfg.Unavailable != "" {
		for _, s := range []string{SourceSysmon, SourceSecurity, SourceETW} {
			c.set(s, false, c.cfg.Unavailable)
		}
		return nil
	}
	var plan []func(context.Context)
	if c.cfg.Log == nil {
		c.set(SourceSysmon, false, "no Event Log on this host")
		c.set(SourceSecurity, false, "no Event Log on this host")
	} else {
		if err := c.cfg.Log.Probe(SysmonChannel); err != nil {
			c.set(SourceSysmon, false, fmt.Sprintf("Sysmon not installed or its channel unreadable: %v", err))
		} else {
			c.set(SourceSysmon, true, "subscribed to "+SysmonChannel+" event 1")
			plan = append(plan, c.channelLoop(SourceSysmon, SysmonChannel, sysmonQuery))
		}
		if reason, ok := c.securityUsable(); ok {
			c.set(SourceSecurity, true, reason)
			plan = append(plan, c.channelLoop(SourceSecurity, SecurityChannel, securityQuery))
		} else {
			c.set(SourceSecurity, false, reason)
		}
	}
	switch {
	case len(plan) > 0:
		c.set(SourceETW, false, "not needed: the Event Log has process starts")
	case c.cfg.Trace == nil:
		c.set(SourceETW, false, "no ETW on this host")
	default:
		if err := c.cfg.Trace.Probe(); err != nil {
			c.set(SourceETW, false, fmt.Sprintf("cannot start a Kernel-Process session: %v", err))
		} else {
			c.set(SourceETW, true, "real-time session on Microsoft-Windows-Kernel-Process (no Sysmon, no 4688)")
			plan = append(plan, c.etwLoop)
		}
	}
	return plan
}

// securityUsable says whether 4688 records exist to collect, and why.
func (c *Collector) securityUsable() (string, bool) {
	if err := c.cfg.Log.Probe(SecurityChannel); err != nil {
		return fmt.Sprintf("Security log unreadable: %v", err), false
	}
	a, err := c.cfg.Log.Audit()
	switch {
	case err != nil:
		// Reading the policy needs rights the channel does not; the
		// subscription is harmless if no 4688 ever comes.
		return fmt.Sprintf("subscribed to Security event 4688 (audit policy unknown: %v)", err), true
	case !a.ProcessCreation:
		return "Audit Process Creation is off: Windows writes no 4688", false
	case !a.CommandLine:
		return "subscribed to Security event 4688, without command lines (ProcessCreationIncludeCmdLine_Enabled is off)", true
	}
	return "subscribed to Security event 4688 with command lines", true
}
