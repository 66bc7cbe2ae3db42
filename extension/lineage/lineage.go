// Package lineage keeps the pid + start-time process tree: it gives an event
// whose source lacks its parent's name, path or command line those of the
// parent's earlier start, and lists the known chain of ancestors.
//
// # Which earlier start is the parent
//
// Windows reuses process ids, so "the process with the parent's pid" is not
// enough. A candidate parent is found, and rejected, by these rules, in order:
//
//  1. When the child names its parent's entity id (Sysmon ParentProcessGuid,
//     Endpoint parent.entity_id), the start with that entity id is the
//     parent. When none is known, the pid is tried as below, but a
//     candidate that has an entity id of its own that differs is rejected.
//  2. Otherwise the candidate is the latest start of the parent pid at or
//     before the child's start. Only that one: if it is rejected, no older
//     start of the same pid is tried, because an older start of a reused
//     pid ended before the newer one began and cannot be the parent.
//  3. A candidate that started after the child is rejected.
//  4. A candidate whose path (or, without paths, whose name) differs from
//     the parent path or name the child's own record gives is rejected
//     (case-insensitively, as Windows compares them): the pid was reused
//     by a process the store saw while the real parent's start was missed.
//  5. A candidate that is the child itself is rejected.
//
// The same rules resolve each ancestor's parent in turn, up to the depth
// asked for, stopping at a cycle.
package lineage

import (
	"context"
	"fmt"
	"strings"

	"scsweep/extension/events"
)

// Finder looks up earlier process starts. The event store implements it
// over SQLite; Memory implements it in memory. Both methods return nil, nil
// when there is no such start.
type Finder interface {
	// ByEntityID returns the start with this entity id.
	ByEntityID(ctx context.Context, id string) (*events.Event, error)
	// LatestStart returns the latest start of pid whose time is at or
	// before notAfter (unix seconds); among starts in the same second, the
	// one stored last. Over SQL: WHERE pid = ? AND time <= ? ORDER BY time
	// DESC, rowid DESC LIMIT 1.
	LatestStart(ctx context.Context, pid int64, notAfter int64) (*events.Event, error)
}

// Fill completes ev from its parent's earlier start: parent name, path,
// command line, entity id and pid where ev lacks them, and Ancestry, nearest
// first, up to maxDepth entries (none when maxDepth <= 0). Fields ev already
// has are kept. An error is a Finder failure; an unknown parent is not one.
func Fill(ctx context.Context, ev *events.Event, f Finder, maxDepth int) error {
	parent, err := Parent(ctx, ev, f)
	if err != nil || parent == nil {
		return err
	}
	if ev.ParentName == "" {
		ev.ParentName = parent.Name
	}
	if ev.ParentPath == "" {
		ev.ParentPath = parent.Path
	}
	if ev.ParentCmdline == "" {
		ev.ParentCmdline = parent.Cmdline
	}
	if ev.ParentEntityID == "" {
		ev.ParentEntityID = parent.EntityID
	}
	if !ev.HasParentPID && parent.HasPID {
		ev.ParentPID, ev.HasParentPID = parent.PID, true
	}
	if maxDepth <= 0 {
		ev.Ancestry = nil
		return nil
	}
	chain := make([]events.Ancestor, 0, min(maxDepth, 8))
	seen := map[string]bool{key(ev): true}
	for cur := parent; cur != nil && len(chain) < maxDepth; {
		k := key(cur)
		if seen[k] {
			break
		}
		seen[k] = true
		chain = append(chain, events.Ancestor{PID: cur.PID, EntityID: cur.EntityID, Name: cur.Name, Path: cur.Path, Time: cur.Time})
		if len(chain) == maxDepth {
			break
		}
		next, err := Parent(ctx, cur, f)
		if err != nil {
			return err
		}
		cur = next
	}
	ev.Ancestry = chain
	return nil
}

// key identifies a start for cycle detection.
func key(ev *events.Event) string {
	if ev.EID != "" {
		return "e:" + ev.EID
	}
	if ev.EntityID != "" {
		return "g:" + ev.EntityID
	}
	return fmt.Sprintf("p:%d@%d", ev.PID, ev.Time)
}

// Parent returns the earlier start that is ev's parent under the package's
// rules, or nil when none is known.
func Parent(ctx context.Context, ev *events.Event, f Finder) (*events.Event, error) {
	if ev.ParentEntityID != "" {
		p, err := f.ByEntityID(ctx, ev.ParentEntityID)
		if err != nil {
			return nil, fmt.Errorf("lineage: parent %s: %w", ev.ParentEntityID, err)
		}
		if p != nil {
			if Reject(ev, p) != "" {
				return nil, nil
			}
			return p, nil
		}
	}
	if !ev.HasParentPID {
		return nil, nil
	}
	p, err := f.LatestStart(ctx, ev.ParentPID, ev.Time)
	if err != nil {
		return nil, fmt.Errorf("lineage: parent pid %d: %w", ev.ParentPID, err)
	}
	if p == nil || Reject(ev, p) != "" {
		return nil, nil
	}
	return p, nil
}

// Reject says why candidate cannot be child's parent, or "" when it can.
func Reject(child, candidate *events.Event) string {
	switch {
	case candidate == child || (child.EID != "" && candidate.EID == child.EID):
		return "candidate is the child itself"
	case child.ParentEntityID != "" && candidate.EntityID != "" && candidate.EntityID != child.ParentEntityID:
		return "entity id differs"
	case candidate.Time > child.Time:
		return "candidate started after the child"
	case child.HasParentPID && candidate.HasPID && candidate.PID != child.ParentPID && child.ParentEntityID == "":
		return "pid differs"
	}
	if child.ParentPath != "" && candidate.Path != "" {
		if !strings.EqualFold(child.ParentPath, candidate.Path) {
			return "path differs from the child's parent path"
		}
		return ""
	}
	childName := child.ParentName
	if childName == "" {
		childName = base(child.ParentPath)
	}
	candName := candidate.Name
	if candName == "" {
		candName = base(candidate.Path)
	}
	if childName != "" && candName != "" && !strings.EqualFold(childName, candName) {
		return "name differs from the child's parent name"
	}
	return ""
}

// base is the file name of a Windows or POSIX path.
func base(p string) string {
	return p[strings.LastIndexAny(p, `\/`)+1:]
}
