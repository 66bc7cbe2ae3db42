package hub

import (
	"fmt"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"scsweep/server/wire"
)

// session is one connected host.
type session struct {
	hub    *Hub
	conn   *websocket.Conn
	hostID string
	remote string
	wmu    sync.Mutex
}

func (s *session) extendRead() error {
	return s.conn.SetReadDeadline(time.Now().Add(2 * s.hub.cfg.PingInterval))
}

// send writes one message with the write deadline.
func (s *session) send(m *wire.Message) error {
	b, err := wire.Encode(m)
	if err != nil {
		return err
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.conn.SetWriteDeadline(time.Now().Add(s.hub.cfg.WriteTimeout))
	if err := s.conn.WriteMessage(websocket.TextMessage, b); err != nil {
		s.conn.Close()
		return fmt.Errorf("hub: send %s to %s: %w", m.Type, s.hostID, err)
	}
	return nil
}

// sendPrepared writes a message encoded once for the whole fan-out.
func (s *session) sendPrepared(pm *websocket.PreparedMessage) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.conn.SetWriteDeadline(time.Now().Add(s.hub.cfg.WriteTimeout))
	if err := s.conn.WritePreparedMessage(pm); err != nil {
		s.conn.Close()
		return fmt.Errorf("hub: send query to %s: %w", s.hostID, err)
	}
	return nil
}

// refuse tells a peer why it is refused; the caller closes.
func (s *session) refuse(code, msg string) {
	s.send(&wire.Message{Type: wire.TypeError, Error: &wire.Error{Code: code, Message: msg}})
	s.wmu.Lock()
	s.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.ClosePolicyViolation, code), time.Now().Add(time.Second))
	s.wmu.Unlock()
}

func (s *session) readLoop() error {
	for {
		s.extendRead()
		_, data, err := s.conn.ReadMessage()
		if err != nil {
			return err
		}
		m, err := wire.Decode(data)
		if err != nil {
			s.hub.log.Warn("malformed message from host", "host", s.hostID, "err", err)
			s.send(&wire.Message{Type: wire.TypeError, Error: &wire.Error{Code: wire.CodeBadRequest, Message: err.Error()}})
			return err
		}
		switch m.Type {
		case wire.TypeResult:
			s.hub.result(s, m.Result)
		case wire.TypePing:
			s.send(&wire.Message{Type: wire.TypePong, Pong: m.Ping})
		case wire.TypePong:
		default:
			err := fmt.Errorf("hub: unexpected %s from host", m.Type)
			s.send(&wire.Message{Type: wire.TypeError, Error: &wire.Error{Code: wire.CodeBadRequest, Message: err.Error()}})
			return err
		}
	}
}
