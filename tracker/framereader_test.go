package tracker

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"testing"
	"time"

	"github.com/convoi/convoi/tracker/teltonika"
)

// chunkConn is a net.Conn whose reads return the input in pieces of the
// given sizes (cycled), then EOF.
type chunkConn struct {
	net.Conn
	b      []byte
	sizes  []byte
	nreads int
}

func (c *chunkConn) Read(p []byte) (int, error) {
	if len(c.b) == 0 {
		return 0, io.EOF
	}
	n := 1
	if len(c.sizes) > 0 {
		n = int(c.sizes[c.nreads%len(c.sizes)])%64 + 1
	}
	c.nreads++
	n = copy(p, c.b[:min(n, len(c.b))])
	c.b = c.b[n:]
	return n, nil
}

func (c *chunkConn) SetReadDeadline(time.Time) error { return nil }

// FuzzFrameReader checks that the deadline-owning reader frames a stream
// exactly like bufio.Scanner with the same SplitFunc, however the stream
// is cut into reads.
func FuzzFrameReader(f *testing.F) {
	t2, _ := teltonika.AppendFrame(nil, teltonika.Codec8, []teltonika.Record{{Time: time.Unix(1772352000, 0), Lat: 1, Lon: 2}})
	stream := append(append(teltonika.AppendIMEI(nil, "123456789012345"), t2...), 0xFF)
	f.Add(stream, []byte{1})
	f.Add(stream, []byte{3, 7, 60})
	f.Add(append(stream, t2[:10]...), []byte{5})
	f.Add([]byte{0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff}, []byte{2})
	f.Fuzz(func(t *testing.T, data, sizes []byte) {
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(nil, teltonika.MaxFrameLength)
		sc.Split(teltonika.SplitTCP)
		var want [][]byte
		for sc.Scan() {
			want = append(want, bytes.Clone(sc.Bytes()))
		}
		fr := &frameReader{conn: &chunkConn{b: data, sizes: sizes}, split: teltonika.SplitTCP, max: teltonika.MaxFrameLength,
			now: time.Now, idle: time.Second, frame: time.Second}
		var got [][]byte
		for {
			tok, err := fr.next()
			if err != nil {
				break
			}
			got = append(got, bytes.Clone(tok))
		}
		if len(got) != len(want) {
			t.Fatalf("%d frames, scanner %d", len(got), len(want))
		}
		for i := range got {
			if !bytes.Equal(got[i], want[i]) {
				t.Fatalf("frame %d differs", i)
			}
		}
	})
}
