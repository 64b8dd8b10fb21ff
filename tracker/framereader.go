package tracker

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/convoi/convoi"
)

// frameReader frames a connection with a bufio.SplitFunc, like
// bufio.Scanner, but owns the read deadlines: idle between frames, and a
// fixed deadline for a whole frame from its first byte, so that a client
// trickling one byte at a time is dropped after frameTimeout however it
// paces its bytes. Its buffer starts small (idle connections are cheap) and
// grows up to max.
type frameReader struct {
	conn       net.Conn
	split      bufio.SplitFunc
	max        int
	now        convoi.Clock
	idle       time.Duration
	frame      time.Duration
	buf        []byte
	start, end int
	deadline   time.Time // of the frame in progress, zero between frames
}

var errFrameTooLong = errors.New("frame too long")

// next returns the next token; it is valid until the following call.
func (r *frameReader) next() ([]byte, error) {
	for {
		if r.end > r.start {
			adv, tok, err := r.split(r.buf[r.start:r.end], false)
			if err != nil {
				return nil, err
			}
			if adv > 0 || tok != nil {
				r.start += adv
				if r.start == r.end {
					r.start, r.end = 0, 0
				}
				r.deadline = time.Time{}
				if r.end > r.start { // the next frame has begun
					r.deadline = r.now().Add(r.frame)
				}
				if tok != nil {
					return tok, nil
				}
				continue
			}
		}
		if r.start > 0 {
			r.end = copy(r.buf, r.buf[r.start:r.end])
			r.start = 0
		}
		if r.end == len(r.buf) {
			if len(r.buf) >= r.max {
				return nil, errFrameTooLong
			}
			nb := make([]byte, min(max(2*len(r.buf), 512), r.max))
			copy(nb, r.buf[:r.end])
			r.buf = nb
		}
		if r.end == 0 {
			r.conn.SetReadDeadline(r.now().Add(r.idle))
		} else {
			if r.deadline.IsZero() {
				r.deadline = r.now().Add(r.frame)
			}
			r.conn.SetReadDeadline(r.deadline)
		}
		n, err := r.conn.Read(r.buf[r.end:])
		r.end += n
		if err != nil {
			if n > 0 && r.end > r.start {
				if adv, tok, serr := r.split(r.buf[r.start:r.end], false); serr == nil && tok != nil {
					r.start += adv
					return tok, nil
				}
			}
			if errors.Is(err, io.EOF) && r.end > r.start {
				return nil, fmt.Errorf("connection closed mid-frame: %w", io.ErrUnexpectedEOF)
			}
			return nil, err
		}
	}
}
