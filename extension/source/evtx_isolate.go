package source

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime/metrics"
	"time"
)

// The EVTX parser is outside code that trusts its input: a few flipped
// bytes in a chunk can make it allocate without bound (a template's
// argument count is read unchecked) or recurse until the stack is gone,
// neither of which recover() can catch. So chunks are parsed in a child
// process — this same executable, started with evtxChildEnv set — that
// is killed when it takes too long or grows too big. A chunk that kills
// its child costs that chunk's records (counted as skipped) and a new
// child takes the next chunk.
//
// When the executable cannot be started again, chunks are parsed in
// process, with recover() as the only guard.

const (
	evtxChildEnv = "SCSWEEP_EVTX_PARSER_CHILD"
	// evtxChunkTimeout bounds one chunk; a healthy chunk takes milliseconds.
	evtxChunkTimeout = 20 * time.Second
	// evtxChildHeapLimit bounds the child's heap; a healthy chunk needs a
	// few MiB.
	evtxChildHeapLimit = 512 << 20
)

func init() {
	if os.Getenv(evtxChildEnv) == "1" {
		os.Exit(runEVTXChild(os.Stdin, os.Stdout))
	}
}

// evtxParseFunc parses one chunk into out.
type evtxParseFunc func(chunk []byte, valid int, out chunkOut) error

// newEVTXParser returns the chunk parser an import uses, and a function
// that releases it.
func newEVTXParser() (evtxParseFunc, func()) {
	exe, err := os.Executable()
	if err != nil {
		return readEVTXChunk, func() {}
	}
	p := &evtxChild{exe: exe}
	return p.parse, p.stop
}

// evtxChild is the parent's handle on the current child.
type evtxChild struct {
	exe    string
	cmd    *exec.Cmd
	in     io.WriteCloser
	out    *bufio.Reader
	broken bool // the child could not be started: parse in process
}

// evtxMsg is one line from the child: a record, a skip count, or the end
// of a chunk.
type evtxMsg struct {
	Rec  *winRecord `json:"rec,omitempty"`
	Skip string     `json:"skip,omitempty"`
	N    int        `json:"n,omitempty"`
	Done bool       `json:"done,omitempty"`
}

func (p *evtxChild) start() error {
	cmd := exec.Command(p.exe)
	cmd.Env = append(os.Environ(), evtxChildEnv+"=1")
	in, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	p.cmd, p.in, p.out = cmd, in, bufio.NewReaderSize(out, 64<<10)
	return nil
}

func (p *evtxChild) stop() {
	if p.cmd == nil {
		return
	}
	p.in.Close()
	done := make(chan struct{})
	go func() { p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		p.cmd.Process.Kill()
		<-done
	}
	p.cmd = nil
}

func (p *evtxChild) kill() {
	if p.cmd == nil {
		return
	}
	p.cmd.Process.Kill()
	p.stop()
}

func (p *evtxChild) parse(chunk []byte, valid int, out chunkOut) error {
	if p.broken {
		return readEVTXChunk(chunk, valid, out)
	}
	if p.cmd == nil {
		if err := p.start(); err != nil {
			p.broken = true
			return readEVTXChunk(chunk, valid, out)
		}
	}
	cmd := p.cmd
	timer := time.AfterFunc(evtxChunkTimeout, func() { cmd.Process.Kill() })
	defer timer.Stop()

	var head [8]byte
	binary.LittleEndian.PutUint32(head[:], uint32(len(chunk)))
	binary.LittleEndian.PutUint32(head[4:], uint32(valid))
	seen := 0 // records the child accounted for
	_, werr := p.in.Write(head[:])
	if werr == nil {
		_, werr = p.in.Write(chunk)
	}
	for werr == nil {
		line, err := p.out.ReadBytes('\n')
		if err != nil {
			break
		}
		var m evtxMsg
		if err := json.Unmarshal(line, &m); err != nil {
			break
		}
		switch {
		case m.Done:
			return nil
		case m.Rec != nil:
			seen++
			if err := out.record(m.Rec); err != nil {
				p.kill()
				return err
			}
		case m.Skip != "" && m.N > 0 && m.N <= evtxChunkSize:
			seen += m.N
			out.skip(m.Skip, m.N)
		}
	}
	// The child died (or was killed) inside this chunk.
	p.kill()
	lost := chunkRecords(chunk) - seen
	if lost < 1 {
		lost = 1
	}
	out.skip(reasonEVTXCrash, lost)
	return nil
}

// childOut writes a chunk's results to the parent.
type childOut struct{ enc *json.Encoder }

func (o *childOut) record(wr *winRecord) error { return o.enc.Encode(evtxMsg{Rec: wr}) }
func (o *childOut) skip(reason string, n int)  { o.enc.Encode(evtxMsg{Skip: reason, N: n}) }

// runEVTXChild is the child: it parses chunks from r until r ends, and
// exits when its heap passes the limit. It returns the exit code.
func runEVTXChild(r io.Reader, w io.Writer) int {
	go watchHeap(evtxChildHeapLimit)
	bw := bufio.NewWriterSize(w, 64<<10)
	out := &childOut{enc: json.NewEncoder(bw)}
	br := bufio.NewReaderSize(r, 64<<10)
	chunk := make([]byte, evtxChunkSize)
	for {
		var head [8]byte
		if _, err := io.ReadFull(br, head[:]); err != nil {
			if errors.Is(err, io.EOF) {
				return 0
			}
			fmt.Fprintln(os.Stderr, "evtx child:", err)
			return 1
		}
		size, valid := binary.LittleEndian.Uint32(head[:]), binary.LittleEndian.Uint32(head[4:])
		if size != evtxChunkSize || valid > size {
			fmt.Fprintln(os.Stderr, "evtx child: bad frame")
			return 1
		}
		if _, err := io.ReadFull(br, chunk); err != nil {
			fmt.Fprintln(os.Stderr, "evtx child:", err)
			return 1
		}
		if err := readEVTXChunk(chunk, int(valid), out); err != nil {
			fmt.Fprintln(os.Stderr, "evtx child:", err)
			return 1
		}
		if err := out.enc.Encode(evtxMsg{Done: true}); err != nil {
			return 1
		}
		if err := bw.Flush(); err != nil {
			return 1
		}
	}
}

// watchHeap ends the process when its heap grows past limit.
func watchHeap(limit uint64) {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	for {
		metrics.Read(sample)
		if sample[0].Value.Kind() == metrics.KindUint64 && sample[0].Value.Uint64() > limit {
			fmt.Fprintln(os.Stderr, "evtx child: heap limit exceeded")
			os.Exit(3)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
