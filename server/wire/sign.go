package wire

import (
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"
)

// signingDomain separates query signatures from anything else the same key
// might ever sign.
const signingDomain = "scsweep/query/v1\x00"

// SigningBytes is the canonical encoding a query's signature covers: the
// domain, then id, attempt, issued, expires and SQL, each length-prefixed or
// fixed-width so no two queries share an encoding.
func SigningBytes(q *Query) []byte {
	b := make([]byte, 0, len(signingDomain)+4+len(q.ID)+8+8+8+4+len(q.SQL))
	b = append(b, signingDomain...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(q.ID)))
	b = append(b, q.ID...)
	b = binary.BigEndian.AppendUint64(b, uint64(q.Attempt))
	b = binary.BigEndian.AppendUint64(b, uint64(q.Issued))
	b = binary.BigEndian.AppendUint64(b, uint64(q.Expires))
	b = binary.BigEndian.AppendUint32(b, uint32(len(q.SQL)))
	b = append(b, q.SQL...)
	return b
}

// Sign sets the query's signature.
func Sign(key ed25519.PrivateKey, q *Query) {
	q.Signature = ed25519.Sign(key, SigningBytes(q))
}

// Reasons Verifier.Check refuses a query; StatusFor maps them to a status.
var (
	ErrBadSignature = errors.New("wire: query signature does not verify")
	ErrExpired      = errors.New("wire: query is outside its validity window")
	ErrReplayed     = errors.New("wire: query was already run")
)

// StatusFor returns the result status that reports err.
func StatusFor(err error) Status {
	switch {
	case err == nil:
		return StatusOK
	case errors.Is(err, ErrBadSignature):
		return StatusBadSignature
	case errors.Is(err, ErrExpired):
		return StatusExpired
	case errors.Is(err, ErrReplayed):
		return StatusReplayed
	case errors.Is(err, ErrDenied):
		return StatusDenied
	}
	return StatusError
}

// Verifier checks pushed queries: signature, freshness and replay. It is
// safe for concurrent use.
type Verifier struct {
	key ed25519.PublicKey
	// MaxLifetime refuses queries valid for longer: it bounds how long an
	// id stays in the seen set.
	MaxLifetime time.Duration
	// Skew is the clock difference tolerated between sweeper and host.
	Skew time.Duration
	// MaxSeen bounds the seen set; when full, queries are refused rather
	// than admitted unchecked.
	MaxSeen int
	// Now is the clock; tests set it.
	Now func() time.Time

	mu   sync.Mutex
	seen map[QueryRef]int64 // → expiry, unix ms
}

// NewVerifier returns a verifier for the sweeper's public key with defaults:
// queries live at most 1 h, 2 min of clock skew, 100k remembered ids.
func NewVerifier(pub ed25519.PublicKey) *Verifier {
	return &Verifier{key: pub, MaxLifetime: time.Hour, Skew: 2 * time.Minute, MaxSeen: 100000, Now: time.Now, seen: map[QueryRef]int64{}}
}

// Check verifies the query and records it as seen. A nil error means run it.
func (v *Verifier) Check(q *Query) error {
	if len(v.key) != ed25519.PublicKeySize || !ed25519.Verify(v.key, SigningBytes(q), q.Signature) {
		return fmt.Errorf("query %s: %w", q.ID, ErrBadSignature)
	}
	now := v.Now().UnixMilli()
	skew := v.Skew.Milliseconds()
	if q.Issued > now+skew || q.Expires < now-skew {
		return fmt.Errorf("query %s valid %s..%s, now %s: %w", q.ID, ms(q.Issued), ms(q.Expires), ms(now), ErrExpired)
	}
	if q.Expires-q.Issued > v.MaxLifetime.Milliseconds() {
		return fmt.Errorf("query %s lives %s, limit %s: %w", q.ID, time.Duration(q.Expires-q.Issued)*time.Millisecond, v.MaxLifetime, ErrExpired)
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if _, ok := v.seen[q.Ref()]; ok {
		return fmt.Errorf("query %s attempt %d: %w", q.ID, q.Attempt, ErrReplayed)
	}
	if len(v.seen) >= v.MaxSeen {
		v.prune(now - skew)
		if len(v.seen) >= v.MaxSeen {
			return fmt.Errorf("query %s: %d unexpired queries remembered, limit %d: %w", q.ID, len(v.seen), v.MaxSeen, ErrReplayed)
		}
	}
	v.seen[q.Ref()] = q.Expires
	if len(v.seen)%1024 == 0 {
		v.prune(now - skew)
	}
	return nil
}

// prune forgets queries that expired: a replay of one fails freshness.
func (v *Verifier) prune(before int64) {
	for k, exp := range v.seen {
		if exp < before {
			delete(v.seen, k)
		}
	}
}

// Seen returns how many queries the verifier remembers.
func (v *Verifier) Seen() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return len(v.seen)
}

func ms(t int64) string { return time.UnixMilli(t).UTC().Format(time.RFC3339Nano) }
