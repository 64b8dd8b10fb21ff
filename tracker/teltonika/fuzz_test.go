package teltonika_test

import (
	"bufio"
	"bytes"
	"errors"
	"testing"

	"github.com/convoi/convoi/tracker/teltonika"
)

// splitPoints returns where to cut data in two: every byte boundary for
// small inputs, a sample for large ones so that one fuzz run stays fast.
func splitPoints(n int) []int {
	var pts []int
	for i := 0; i <= n; i++ {
		if n <= 1024 || i < 256 || n-i < 256 || i%97 == 0 {
			pts = append(pts, i)
		}
	}
	return pts
}

// twoPiece reads a, then b, then EOF: a stream cut at one boundary.
type twoPiece struct{ a, b []byte }

func (r *twoPiece) Read(p []byte) (int, error) {
	if len(r.a) > 0 {
		n := copy(p, r.a)
		r.a = r.a[n:]
		return n, nil
	}
	if len(r.b) > 0 {
		n := copy(p, r.b)
		r.b = r.b[n:]
		return n, nil
	}
	return 0, ioEOF
}

func scanPieces(a, b []byte) ([][]byte, error) {
	sc := bufio.NewScanner(&twoPiece{a, b})
	sc.Buffer(make([]byte, 0, 16), teltonika.MaxFrameLength)
	sc.Split(teltonika.SplitTCP)
	var out [][]byte
	for sc.Scan() {
		out = append(out, bytes.Clone(sc.Bytes()))
	}
	return out, sc.Err()
}

func addSeeds(f *testing.F) {
	for _, v := range []string{vecT1, vecT2, vecT3, vecT4, vecT5, vecT6, vecT7} {
		f.Add(mustHex(f, v))
	}
	f.Add(mustHex(f, vecT1+vecT2+"ff"+vecT3))
}

// FuzzSplitTCP checks that framing does not depend on where the stream is
// cut, that frames are contiguous prefixes of the input, never over the
// cap, and that every frame can be handed to the decoders without panic.
func FuzzSplitTCP(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		whole, werr := scanPieces(data, nil)
		joined := bytes.Join(whole, nil)
		if !bytes.HasPrefix(data, joined) {
			t.Fatalf("frames are not a prefix of the input")
		}
		if werr == nil && len(joined) != len(data) {
			t.Fatalf("no error but %d of %d bytes framed", len(joined), len(data))
		}
		if werr != nil && !errors.Is(werr, teltonika.ErrMalformed) {
			t.Fatalf("error %v does not wrap ErrMalformed", werr)
		}
		var p teltonika.Packet
		for _, fr := range whole {
			if len(fr) > teltonika.MaxFrameLength {
				t.Fatalf("frame of %d bytes", len(fr))
			}
			_, _ = teltonika.ParseIMEI(fr)
			_ = p.Decode(fr)
			_, _ = teltonika.DecodeMessage(fr)
		}
		for _, i := range splitPoints(len(data)) {
			got, err := scanPieces(data[:i], data[i:])
			if (err == nil) != (werr == nil) || len(got) != len(whole) {
				t.Fatalf("cut at %d: %d frames (%v), whole: %d frames (%v)", i, len(got), err, len(whole), werr)
			}
			for k := range got {
				if !bytes.Equal(got[k], whole[k]) {
					t.Fatalf("cut at %d: frame %d differs", i, k)
				}
			}
		}
	})
}

// FuzzDecode checks that Decode never panics, accepts only frames whose CRC
// matches, and that what it accepts re-encodes to an equivalent frame.
func FuzzDecode(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, frame []byte) {
		var p teltonika.Packet
		if err := p.Decode(frame); err != nil {
			if !errors.Is(err, teltonika.ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		if len(frame) < 12 || teltonika.CRC16(frame[8:len(frame)-4]) != uint16(frame[len(frame)-2])<<8|uint16(frame[len(frame)-1]) {
			t.Fatal("accepted a frame with a wrong CRC")
		}
		// The decoded records must survive an encode/decode round trip.
		again, err := teltonika.AppendFrame(nil, p.Codec, p.Records)
		if err != nil {
			if len(p.Records) == 0 {
				return
			}
			t.Fatalf("re-encode: %v", err)
		}
		var q teltonika.Packet
		if err := q.Decode(again); err != nil {
			t.Fatalf("decode re-encoded: %v", err)
		}
		if len(q.Records) != len(p.Records) {
			t.Fatalf("%d records, then %d", len(p.Records), len(q.Records))
		}
		for i := range p.Records {
			a, b := p.Records[i], q.Records[i]
			if !a.Time.Equal(b.Time) || a.Lat != b.Lat || a.Lon != b.Lon || a.Speed != b.Speed || len(a.IO) != len(b.IO) || a.EventID != b.EventID {
				t.Fatalf("record %d: %+v then %+v", i, a, b)
			}
		}
	})
}

// FuzzDecodeMessage covers Codec 12.
func FuzzDecodeMessage(f *testing.F) {
	addSeeds(f)
	f.Add(teltonika.AppendResponse(nil, "DOUT1:1 DOUT2:0"))
	f.Fuzz(func(t *testing.T, frame []byte) {
		m, err := teltonika.DecodeMessage(frame)
		if err != nil {
			if !errors.Is(err, teltonika.ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		var again []byte
		if m.Type == teltonika.TypeResponse {
			again = teltonika.AppendResponse(nil, m.Text)
		} else if again, err = teltonika.AppendCommand(nil, m.Text); err != nil {
			return // empty or over-long text: decodable, not encodable
		}
		if !bytes.Equal(again, frame) {
			t.Fatalf("re-encoded %x, was %x", again, frame)
		}
	})
}

// FuzzDecodeUDP covers the UDP envelope and IMEI login parsing.
func FuzzDecodeUDP(f *testing.F) {
	addSeeds(f)
	dg, _ := teltonika.AppendUDP(nil, teltonika.UDPHeader{PacketID: 1, AVLPacketID: 2, IMEI: "123456789012345"}, mustHex(f, vecT3))
	f.Add(dg)
	f.Fuzz(func(t *testing.T, b []byte) {
		var p teltonika.Packet
		if _, err := p.DecodeUDP(b); err != nil && !errors.Is(err, teltonika.ErrMalformed) {
			t.Fatalf("error %v does not wrap ErrMalformed", err)
		}
		if imei, err := teltonika.ParseIMEI(b); err == nil && len(imei) != len(b)-2 {
			t.Fatalf("IMEI %q from %d bytes", imei, len(b))
		}
	})
}
