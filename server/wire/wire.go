// Package wire is the protocol between the sweeper and its agents: versioned
// JSON messages, one per websocket text frame, plus the signing and the
// checks that make a pushed query safe to run on a host.
//
// Every message is an object {"v":1,"type":T, T:{...}} whose body sits under
// the key named by its type. The conversation:
//
//	agent → sweeper  hello    host id, versions, and either the node key or
//	                          (first time) the enrollment secret; the ids of
//	                          results the agent still holds undelivered.
//	sweeper → agent  welcome  accepted; carries the node key once, on
//	                          enrollment, the chunk bounds to use and the
//	                          public key queries are signed with.
//	sweeper → agent  error    refused (wrong secret or key, bad version,
//	                          malformed message); the sweeper then closes.
//	sweeper → agent  query    id, attempt, SQL, issue and expiry times, and
//	                          an ed25519 signature over the canonical
//	                          encoding of those fields (see SigningBytes).
//	agent → sweeper  result   one chunk of a query's rows, column-wise
//	                          (names once, then one array of values per row,
//	                          see rows.go): at most the welcome's row and
//	                          byte bounds; seq counts from
//	                          0; the last chunk has final=true, the status
//	                          (ok, error, denied, expired, replayed,
//	                          bad_signature, timeout) and the stats.
//	sweeper → agent  ack      the final chunk of (query, attempt) is stored;
//	                          the agent may forget that result.
//	either           ping     application-level liveness with a nonce; the
//	                 pong     peer echoes it. The sweeper also uses websocket
//	                          control pings, which gorilla answers itself.
//
// A query that reaches the agent is run only if its signature verifies under
// the sweeper's public key, it is fresh (issued ≤ now ≤ expires, with a
// bounded lifetime), its (id, attempt) has not been seen before (the seen
// set only keeps ids until they expire, so it stays bounded), and it names
// no denied table (curl, curl_certificate, carves by default). A refusal is
// itself a final result with the matching status, so the sweeper learns why.
//
// A result the agent could not deliver is kept and re-sent from seq 0 after
// the next hello; the sweeper discards a partial result when seq 0 arrives
// again and acks only complete ones. A query the sweeper still waits for is
// re-sent with attempt+1 (a new signature) when its host reconnects without
// holding the result, so a host that died mid-query loses nothing.
//
// This package is imported by the extension: it must depend on nothing of
// the server but itself.
package wire

import (
	"encoding/json"
	"errors"
	"fmt"
)

// Version is the protocol version every message carries in "v".
const Version = 1

// Limits of a well-formed message. They bound what a peer can make the other
// side allocate; the websocket read limit is set from MaxMessageBytes.
const (
	MaxMessageBytes = 4 << 20
	MaxChunkRows    = 10000
	MaxSQLBytes     = 64 << 10
	MaxIDBytes      = 256
	MaxHeld         = 1024
)

// Default chunk bounds, announced in the welcome.
const (
	DefaultChunkRows  = 1000
	DefaultChunkBytes = 512 << 10
)

// Type names the body a message carries.
type Type string

// The message types.
const (
	TypeHello   Type = "hello"
	TypeWelcome Type = "welcome"
	TypeError   Type = "error"
	TypeQuery   Type = "query"
	TypeResult  Type = "result"
	TypeAck     Type = "ack"
	TypePing    Type = "ping"
	TypePong    Type = "pong"
)

// Message is one protocol message: exactly the body its Type names is set.
type Message struct {
	V       int      `json:"v"`
	Type    Type     `json:"type"`
	Hello   *Hello   `json:"hello,omitempty"`
	Welcome *Welcome `json:"welcome,omitempty"`
	Error   *Error   `json:"error,omitempty"`
	Query   *Query   `json:"query,omitempty"`
	Result  *Result  `json:"result,omitempty"`
	Ack     *Ack     `json:"ack,omitempty"`
	Ping    *Ping    `json:"ping,omitempty"`
	Pong    *Ping    `json:"pong,omitempty"`
}

// Hello opens every connection from an agent.
type Hello struct {
	HostID         string `json:"host_id"`
	Hostname       string `json:"hostname,omitempty"`
	OS             string `json:"os,omitempty"`
	AgentVersion   string `json:"agent_version,omitempty"`
	OsqueryVersion string `json:"osquery_version,omitempty"`
	// NodeKey authenticates an enrolled host; EnrollSecret enrolls a new one.
	// Exactly one is set.
	NodeKey      string `json:"node_key,omitempty"`
	EnrollSecret string `json:"enroll_secret,omitempty"`
	// Held lists the results the agent keeps undelivered and will re-send.
	Held []QueryRef `json:"held,omitempty"`
}

// QueryRef names one delivery of a query.
type QueryRef struct {
	ID      string `json:"id"`
	Attempt int    `json:"attempt"`
}

// Welcome accepts a hello.
type Welcome struct {
	HostID string `json:"host_id"`
	// NodeKey is set only in answer to an enrollment: the agent must keep it,
	// the sweeper stores only its hash.
	NodeKey    string `json:"node_key,omitempty"`
	ChunkRows  int    `json:"chunk_rows"`
	ChunkBytes int    `json:"chunk_bytes"`
	ServerTime int64  `json:"server_time"` // unix ms, lets an agent report clock skew
	// QueryKey is the ed25519 public key queries are signed with. An agent
	// configured with the key refuses a sweeper announcing another; one
	// without pins the first key it is given over the CA-pinned channel.
	QueryKey []byte `json:"query_key"`
}

// Error codes.
const (
	CodeUnauthorized = "unauthorized"
	CodeBadRequest   = "bad_request"
	CodeVersion      = "version"
)

// Error refuses a hello or a message.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Query asks a host to run SQL. Issued and Expires are unix milliseconds.
type Query struct {
	ID        string `json:"id"`
	Attempt   int    `json:"attempt"`
	SQL       string `json:"sql"`
	Issued    int64  `json:"issued"`
	Expires   int64  `json:"expires"`
	Signature []byte `json:"sig"`
}

// Ref returns the query's delivery reference.
func (q *Query) Ref() QueryRef { return QueryRef{ID: q.ID, Attempt: q.Attempt} }

// Status is the outcome of a query on one host.
type Status string

// Statuses of a final result chunk. Everything but StatusOK carries Error.
const (
	StatusOK           Status = "ok"
	StatusError        Status = "error"         // the query failed on the host
	StatusDenied       Status = "denied"        // it names a denied table
	StatusExpired      Status = "expired"       // outside its validity window
	StatusReplayed     Status = "replayed"      // this (id, attempt) ran before
	StatusBadSignature Status = "bad_signature" // signature does not verify
	StatusTimeout      Status = "timeout"       // did not finish before expiry
)

func (s Status) valid() bool {
	switch s {
	case StatusOK, StatusError, StatusDenied, StatusExpired, StatusReplayed, StatusBadSignature, StatusTimeout:
		return true
	}
	return false
}

// Result is one chunk of a query's answer.
type Result struct {
	QueryID string              `json:"query_id"`
	Attempt int                 `json:"attempt"`
	Seq     int                 `json:"seq"`
	Rows    []map[string]string `json:"rows,omitempty"`
	Final   bool                `json:"final,omitempty"`
	// Status, Error and Stats are set on the final chunk only.
	Status Status `json:"status,omitempty"`
	Error  string `json:"error,omitempty"`
	Stats  *Stats `json:"stats,omitempty"`
}

// Ref returns the delivery the chunk answers.
func (r *Result) Ref() QueryRef { return QueryRef{ID: r.QueryID, Attempt: r.Attempt} }

// Stats describe one run of a query on a host.
type Stats struct {
	Rows   int   `json:"rows"`
	Bytes  int   `json:"bytes"`
	Chunks int   `json:"chunks"`
	WallMS int64 `json:"wall_ms"`
	// Dropped counts rows left out because one row alone exceeded the chunk
	// byte bound.
	Dropped int `json:"dropped,omitempty"`
	// Osquery's own figures, when the query ran through osqueryd.
	UserTimeMS   int64 `json:"user_time_ms,omitempty"`
	SystemTimeMS int64 `json:"system_time_ms,omitempty"`
	MemoryBytes  int64 `json:"memory_bytes,omitempty"`
}

// Ack tells the agent a result is stored.
type Ack struct {
	QueryID string `json:"query_id"`
	Attempt int    `json:"attempt"`
}

// Ping carries a nonce the pong echoes.
type Ping struct {
	Nonce int64 `json:"nonce"`
}

// ErrMalformed wraps every reason Decode refuses a message.
var ErrMalformed = errors.New("wire: malformed message")

// Decode parses and validates one message. Unknown fields are ignored so a
// newer peer can add some; an unknown version or type is refused.
func Decode(data []byte) (*Message, error) {
	if len(data) > MaxMessageBytes {
		return nil, fmt.Errorf("%w: %d bytes exceeds %d", ErrMalformed, len(data), MaxMessageBytes)
	}
	if m, ok := decodeResult(data); ok {
		if err := m.Validate(); err != nil {
			return nil, err
		}
		return m, nil
	}
	var m Message
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

// Encode validates a message and returns its JSON. V is set to Version.
func Encode(m *Message) ([]byte, error) {
	m.V = Version
	if err := m.Validate(); err != nil {
		return nil, err
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("wire: encode %s: %w", m.Type, err)
	}
	if len(b) > MaxMessageBytes {
		return nil, fmt.Errorf("%w: encoded %s is %d bytes, limit %d", ErrMalformed, m.Type, len(b), MaxMessageBytes)
	}
	return b, nil
}

func bad(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// Validate checks version, type, that exactly the matching body is present,
// and the bounds of its fields.
func (m *Message) Validate() error {
	if m.V != Version {
		return bad("version %d, want %d", m.V, Version)
	}
	bodies := 0
	for _, set := range []bool{m.Hello != nil, m.Welcome != nil, m.Error != nil, m.Query != nil, m.Result != nil, m.Ack != nil, m.Ping != nil, m.Pong != nil} {
		if set {
			bodies++
		}
	}
	if bodies != 1 {
		return bad("%s message has %d bodies, want 1", m.Type, bodies)
	}
	switch m.Type {
	case TypeHello:
		if m.Hello == nil {
			return bad("hello without body")
		}
		return m.Hello.validate()
	case TypeWelcome:
		if m.Welcome == nil {
			return bad("welcome without body")
		}
		w := m.Welcome
		if err := checkID("welcome host_id", w.HostID); err != nil {
			return err
		}
		if w.ChunkRows < 1 || w.ChunkRows > MaxChunkRows || w.ChunkBytes < 1 || w.ChunkBytes > MaxMessageBytes/2 {
			return bad("welcome chunk bounds %d rows, %d bytes out of range", w.ChunkRows, w.ChunkBytes)
		}
		if len(w.NodeKey) > MaxIDBytes {
			return bad("welcome node_key too long")
		}
		if len(w.QueryKey) != 32 {
			return bad("welcome query_key of %d bytes, want 32", len(w.QueryKey))
		}
	case TypeError:
		if m.Error == nil {
			return bad("error without body")
		}
		if m.Error.Code == "" {
			return bad("error without code")
		}
	case TypeQuery:
		if m.Query == nil {
			return bad("query without body")
		}
		q := m.Query
		if err := checkID("query id", q.ID); err != nil {
			return err
		}
		if q.Attempt < 0 {
			return bad("query attempt %d < 0", q.Attempt)
		}
		if q.SQL == "" || len(q.SQL) > MaxSQLBytes {
			return bad("query sql of %d bytes, want 1..%d", len(q.SQL), MaxSQLBytes)
		}
		if q.Expires <= q.Issued {
			return bad("query expires %d not after issued %d", q.Expires, q.Issued)
		}
	case TypeResult:
		if m.Result == nil {
			return bad("result without body")
		}
		r := m.Result
		if err := checkID("result query_id", r.QueryID); err != nil {
			return err
		}
		if r.Attempt < 0 || r.Seq < 0 {
			return bad("result attempt %d seq %d must not be negative", r.Attempt, r.Seq)
		}
		if len(r.Rows) > MaxChunkRows {
			return bad("result chunk of %d rows exceeds %d", len(r.Rows), MaxChunkRows)
		}
		if r.Final {
			if !r.Status.valid() {
				return bad("final result with status %q", r.Status)
			}
		} else if r.Status != "" || r.Stats != nil {
			return bad("status or stats on a non-final chunk")
		}
	case TypeAck:
		if m.Ack == nil {
			return bad("ack without body")
		}
		if err := checkID("ack query_id", m.Ack.QueryID); err != nil {
			return err
		}
	case TypePing:
		if m.Ping == nil {
			return bad("ping without body")
		}
	case TypePong:
		if m.Pong == nil {
			return bad("pong without body")
		}
	default:
		return bad("unknown type %q", m.Type)
	}
	return nil
}

func (h *Hello) validate() error {
	if err := checkID("hello host_id", h.HostID); err != nil {
		return err
	}
	if (h.NodeKey == "") == (h.EnrollSecret == "") {
		return bad("hello needs exactly one of node_key and enroll_secret")
	}
	if len(h.NodeKey) > MaxIDBytes || len(h.EnrollSecret) > MaxIDBytes {
		return bad("hello credential too long")
	}
	for _, s := range []string{h.Hostname, h.OS, h.AgentVersion, h.OsqueryVersion} {
		if len(s) > MaxIDBytes {
			return bad("hello field too long")
		}
	}
	if len(h.Held) > MaxHeld {
		return bad("hello holds %d results, limit %d", len(h.Held), MaxHeld)
	}
	for _, r := range h.Held {
		if err := checkID("hello held id", r.ID); err != nil {
			return err
		}
	}
	return nil
}

func checkID(what, s string) error {
	if s == "" {
		return bad("%s empty", what)
	}
	if len(s) > MaxIDBytes {
		return bad("%s of %d bytes exceeds %d", what, len(s), MaxIDBytes)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return bad("%s has a control character", what)
		}
	}
	return nil
}
