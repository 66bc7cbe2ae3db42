package wire

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"testing"
	"time"
)

func testKey(t testing.TB) (ed25519.PublicKey, ed25519.PrivateKey) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return pub, priv
}

func TestVerifierCheck(t *testing.T) {
	pub, priv := testKey(t)
	_, other := testKey(t)
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	fresh := func() *Query {
		q := &Query{ID: "q1", Attempt: 0, SQL: "select * from processes", Issued: now.UnixMilli(), Expires: now.Add(time.Minute).UnixMilli()}
		Sign(priv, q)
		return q
	}
	cases := []struct {
		name   string
		query  func() *Query
		want   error
		status Status
	}{
		{"fresh and signed", fresh, nil, StatusOK},
		{"sql tampered", func() *Query { q := fresh(); q.SQL = "select * from curl"; return q }, ErrBadSignature, StatusBadSignature},
		{"id tampered", func() *Query { q := fresh(); q.ID = "q2"; return q }, ErrBadSignature, StatusBadSignature},
		{"attempt tampered", func() *Query { q := fresh(); q.Attempt = 1; return q }, ErrBadSignature, StatusBadSignature},
		{"expiry extended", func() *Query { q := fresh(); q.Expires += 1; return q }, ErrBadSignature, StatusBadSignature},
		{"other key", func() *Query { q := fresh(); Sign(other, q); return q }, ErrBadSignature, StatusBadSignature},
		{"no signature", func() *Query { q := fresh(); q.Signature = nil; return q }, ErrBadSignature, StatusBadSignature},
		{"expired", func() *Query {
			q := &Query{ID: "q", SQL: "x", Issued: now.Add(-time.Hour).UnixMilli(), Expires: now.Add(-10 * time.Minute).UnixMilli()}
			Sign(priv, q)
			return q
		}, ErrExpired, StatusExpired},
		{"issued in the future", func() *Query {
			q := &Query{ID: "q", SQL: "x", Issued: now.Add(10 * time.Minute).UnixMilli(), Expires: now.Add(20 * time.Minute).UnixMilli()}
			Sign(priv, q)
			return q
		}, ErrExpired, StatusExpired},
		{"lifetime above limit", func() *Query {
			q := &Query{ID: "q", SQL: "x", Issued: now.UnixMilli(), Expires: now.Add(2 * time.Hour).UnixMilli()}
			Sign(priv, q)
			return q
		}, ErrExpired, StatusExpired},
		{"within skew after expiry", func() *Query {
			q := &Query{ID: "q", SQL: "x", Issued: now.Add(-time.Minute).UnixMilli(), Expires: now.Add(-time.Second).UnixMilli()}
			Sign(priv, q)
			return q
		}, nil, StatusOK},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := NewVerifier(pub)
			v.Now = func() time.Time { return now }
			err := v.Check(c.query())
			if !errors.Is(err, c.want) || (c.want == nil) != (err == nil) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
			if got := StatusFor(err); got != c.status {
				t.Errorf("got status %s, want %s", got, c.status)
			}
		})
	}
}

func TestVerifierRefusesReplay(t *testing.T) {
	pub, priv := testKey(t)
	now := time.Now()
	v := NewVerifier(pub)
	v.Now = func() time.Time { return now }
	q := &Query{ID: "q1", SQL: "select 1", Issued: now.UnixMilli(), Expires: now.Add(time.Minute).UnixMilli()}
	Sign(priv, q)
	if err := v.Check(q); err != nil {
		t.Fatalf("first delivery: got %v, want nil", err)
	}
	if err := v.Check(q); !errors.Is(err, ErrReplayed) {
		t.Fatalf("second delivery: got %v, want ErrReplayed", err)
	}
	// A re-delivery by the sweeper is a new attempt with its own signature.
	q2 := *q
	q2.Attempt = 1
	Sign(priv, &q2)
	if err := v.Check(&q2); err != nil {
		t.Fatalf("attempt 1: got %v, want nil", err)
	}
	// After expiry the id is forgotten, and the replay fails freshness.
	now = now.Add(time.Hour)
	v.prune(now.UnixMilli())
	if n := v.Seen(); n != 0 {
		t.Errorf("got %d remembered after expiry, want 0", n)
	}
	if err := v.Check(q); !errors.Is(err, ErrExpired) {
		t.Errorf("replay after expiry: got %v, want ErrExpired", err)
	}
}

func TestVerifierSeenSetIsBounded(t *testing.T) {
	pub, priv := testKey(t)
	now := time.Now()
	v := NewVerifier(pub)
	v.Now = func() time.Time { return now }
	v.MaxSeen = 3
	for i, id := range []string{"a", "b", "c", "d"} {
		q := &Query{ID: id, SQL: "x", Issued: now.UnixMilli(), Expires: now.Add(time.Minute).UnixMilli()}
		Sign(priv, q)
		err := v.Check(q)
		if i < 3 && err != nil {
			t.Fatalf("query %s: got %v, want nil", id, err)
		}
		if i == 3 && err == nil {
			t.Fatalf("query %s: got nil, want refusal with a full seen set", id)
		}
	}
	now = now.Add(10 * time.Minute)
	q := &Query{ID: "e", SQL: "x", Issued: now.UnixMilli(), Expires: now.Add(time.Minute).UnixMilli()}
	Sign(priv, q)
	if err := v.Check(q); err != nil {
		t.Errorf("after the others expired: got %v, want nil", err)
	}
}

func TestSigningBytesAreUnambiguous(t *testing.T) {
	a := SigningBytes(&Query{ID: "ab", SQL: "c"})
	b := SigningBytes(&Query{ID: "a", SQL: "bc"})
	if string(a) == string(b) {
		t.Errorf("got equal encodings for different queries")
	}
}

func BenchmarkVerify(b *testing.B) {
	pub, priv := testKey(b)
	v := NewVerifier(pub)
	now := time.Now()
	q := &Query{ID: "q", SQL: "select * from process_lineage_events where time >= 1", Issued: now.UnixMilli(), Expires: now.Add(time.Minute).UnixMilli()}
	for i := 0; b.Loop(); i++ {
		q.Attempt = i
		Sign(priv, q)
		if err := v.Check(q); err != nil {
			b.Fatal(err)
		}
	}
}
