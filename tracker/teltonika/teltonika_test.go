package teltonika_test

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/convoi/convoi/tracker/teltonika"
)

// Vectors from testdata/tracker/vectors.md.
const (
	vecT1 = "000F313233343536373839303132333435"
	vecT2 = "000000000000003508010000014f8e016420002141bbaf0f4e96a7fffa0000120000000602010047030242669c92000002c7000000009100000000000100002df3"
	vecT3 = "000000000000004508010000015eb70a86d00024089d4d21dee3860137005f12005f000e06ef01f00150011503c800450108b5000bb6000642382718005fcd057ace19d3430f57440000000001000002bf"
	vecT4 = "00000000000000818e0100000166e368a510000f0d8b5b20961c35008d010308000000000014000900ef0000f00100500100150400c800004501001e00002500002900000a00b5000800b60007004230dc0018000000430fcb0044005f001103de001200e50013001200240000000000000001010000113141314a433534343452373235323336370100005e99"
	vecT5 = "000000000000003608010000016B40D8EA30010000000000000000000000000000000105021503010101425E0F01F10000601A014E0000000000000000010000C7CF"
	vecT6 = "000000000000004A8E010000016B412CEE000100000000000000000000000000000000010005000100010100010011001D00010010015E2C880002000B000000003544C87A000E000000001DD7E06A00000100002994"
	vecT7 = "00000000000000140c01050000000c7365746469676f7574203131010000bed5"
)

func mustHex(tb testing.TB, s string) []byte {
	tb.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func ioValue(t *testing.T, r *teltonika.Record, id uint16) uint64 {
	t.Helper()
	io, ok := r.Lookup(id)
	if !ok {
		t.Fatalf("IO %d missing", id)
	}
	return io.Value
}

func TestParseIMEI(t *testing.T) {
	imei, err := teltonika.ParseIMEI(mustHex(t, vecT1))
	if err != nil || imei != "123456789012345" {
		t.Fatalf("ParseIMEI = %q, %v", imei, err)
	}
	for name, in := range map[string]string{
		"empty":     "",
		"zero":      "0000",
		"letters":   "0003313278",
		"short":     "000F3132",
		"long":      "001231323334353637383930313233343536373839",
		"truncated": "00",
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := teltonika.ParseIMEI(mustHex(t, in)); !errors.Is(err, teltonika.ErrMalformed) {
				t.Fatalf("err = %v, want ErrMalformed", err)
			}
		})
	}
	if got := teltonika.AppendIMEI(nil, "123456789012345"); !bytes.Equal(got, mustHex(t, vecT1)) {
		t.Fatalf("AppendIMEI = %x", got)
	}
}

func TestDecodeVectors(t *testing.T) {
	t.Run("T2", func(t *testing.T) {
		p, err := teltonika.Decode(mustHex(t, vecT2))
		if err != nil {
			t.Fatal(err)
		}
		if p.Codec != teltonika.Codec8 || len(p.Records) != 1 {
			t.Fatalf("codec %v, %d records", p.Codec, len(p.Records))
		}
		r := &p.Records[0]
		if want := time.Date(2015, 9, 2, 12, 21, 40, 0, time.UTC); !r.Time.Equal(want) {
			t.Errorf("time %v, want %v", r.Time, want)
		}
		// vectors.md lists T2 as "lat 55.7956015 lon 25.6808615", but its own
		// frame layout (longitude first, as T3 confirms and Teltonika's spec
		// says) puts 0x2141bbaf = 55.7956015 in the longitude: the fix is in
		// Ras Al Khaimah (25.68 N, 55.80 E). We follow the layout.
		if r.Lon != 55.7956015 || r.Lat != 25.6808615 || r.Altitude != -6 || r.Satellites != 18 {
			t.Errorf("got lat %v lon %v alt %v sats %v", r.Lat, r.Lon, r.Altitude, r.Satellites)
		}
		if v := ioValue(t, r, 66); v != 26268 {
			t.Errorf("IO 66 = %d", v)
		}
		if ack := teltonika.AppendAck(nil, len(p.Records)); !bytes.Equal(ack, []byte{0, 0, 0, 1}) {
			t.Errorf("ack %x", ack)
		}
		if c := teltonika.CRC16(mustHex(t, vecT2)[8 : len(vecT2)/2-4]); c != 0x2DF3 {
			t.Errorf("CRC %04X", c)
		}
	})
	t.Run("T3", func(t *testing.T) {
		p, err := teltonika.Decode(mustHex(t, vecT3))
		if err != nil {
			t.Fatal(err)
		}
		r := &p.Records[0]
		if want := time.Date(2017, 9, 25, 3, 17, 54, 0, time.UTC); !r.Time.Equal(want) {
			t.Errorf("time %v, want %v", r.Time, want)
		}
		if r.Lat != 56.8255366 || r.Lon != 60.4544333 || r.Speed != 95 {
			t.Errorf("lat %v lon %v speed %v", r.Lat, r.Lon, r.Speed)
		}
		for id, want := range map[uint16]uint64{239: 1, 240: 1, 69: 1} {
			if v := ioValue(t, r, id); v != want {
				t.Errorf("IO %d = %d, want %d", id, v, want)
			}
		}
	})
	t.Run("T4", func(t *testing.T) {
		p, err := teltonika.Decode(mustHex(t, vecT4))
		if err != nil {
			t.Fatal(err)
		}
		if p.Codec != teltonika.Codec8E || len(p.Records) != 1 {
			t.Fatalf("codec %v, %d records", p.Codec, len(p.Records))
		}
		io, ok := p.Records[0].Lookup(256)
		if !ok || io.Size != 0 || string(io.Bytes) != "1A1JC5444R7252367" {
			t.Fatalf("IO 256 = %+v", io)
		}
	})
	t.Run("T5", func(t *testing.T) {
		p, err := teltonika.Decode(mustHex(t, vecT5))
		if err != nil {
			t.Fatal(err)
		}
		r := &p.Records[0]
		if r.Lat != 0 || r.Lon != 0 || r.Priority != teltonika.PriorityHigh || r.EventID != 1 {
			t.Fatalf("record %+v", r)
		}
		if v := ioValue(t, r, 1); v != 1 {
			t.Errorf("IO 1 = %d", v)
		}
	})
	t.Run("T6", func(t *testing.T) {
		p, err := teltonika.Decode(mustHex(t, vecT6))
		if err != nil {
			t.Fatal(err)
		}
		if p.Codec != teltonika.Codec8E || len(p.Records) != 1 {
			t.Fatalf("codec %v, %d records", p.Codec, len(p.Records))
		}
		r := &p.Records[0]
		if r.EventID != 1 || ioValue(t, r, 1) != 1 || ioValue(t, r, 0x11) != 0x1D {
			t.Errorf("record %+v", r)
		}
	})
	t.Run("T7", func(t *testing.T) {
		got, err := teltonika.AppendCommand(nil, "setdigout 11")
		if err != nil || !bytes.Equal(got, mustHex(t, vecT7)) {
			t.Fatalf("AppendCommand = %x, %v", got, err)
		}
		m, err := teltonika.DecodeMessage(got)
		if err != nil || m.Type != teltonika.TypeCommand || m.Text != "setdigout 11" {
			t.Fatalf("DecodeMessage = %+v, %v", m, err)
		}
		if teltonika.FrameCodec(got) != teltonika.Codec12 {
			t.Fatal("FrameCodec")
		}
	})
}

func TestDecodeErrors(t *testing.T) {
	t2 := mustHex(t, vecT2)
	flip := func(i int) []byte {
		b := bytes.Clone(t2)
		b[i] ^= 0x01
		return b
	}
	cases := []struct {
		name  string
		frame []byte
		want  error
	}{
		{"empty", nil, teltonika.ErrTruncated},
		{"truncated", t2[:len(t2)-1], teltonika.ErrMalformed},
		{"bad crc", flip(len(t2) - 1), teltonika.ErrCRC},
		{"flipped data", flip(20), teltonika.ErrCRC},
		{"crc high bits", func() []byte { b := bytes.Clone(t2); b[len(b)-4] = 1; return b }(), teltonika.ErrCRC},
		{"bad preamble", flip(0), teltonika.ErrMalformed},
		{"length too long", func() []byte { b := bytes.Clone(t2); b[4] = 0x7f; return b }(), teltonika.ErrTooLong},
		{"codec 12 as AVL", mustHex(t, vecT7), teltonika.ErrCodec},
		{"unknown codec", reCRC(func(d []byte) { d[0] = 0x07 }, t2), teltonika.ErrCodec},
		{"counts differ", reCRC(func(d []byte) { d[len(d)-1] = 2 }, t2), teltonika.ErrMalformed},
		{"count too high", reCRC(func(d []byte) { d[1] = 2; d[len(d)-1] = 2 }, t2), teltonika.ErrTruncated},
		{"priority 3", reCRC(func(d []byte) { d[10] = 3 }, t2), teltonika.ErrMalformed},
		{"latitude 200", reCRC(func(d []byte) { copy(d[15:19], []byte{0x77, 0x35, 0x94, 0x00}) }, t2), teltonika.ErrMalformed},
		{"timestamp huge", reCRC(func(d []byte) { d[2] = 0xff }, t2), teltonika.ErrMalformed},
		{"IO count overflows", reCRC(func(d []byte) { d[28] = 0xff }, t2), teltonika.ErrTruncated},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := teltonika.Decode(tc.frame); !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

// reCRC applies edit to a copy of the frame's data part and recomputes the CRC.
func reCRC(edit func(data []byte), frame []byte) []byte {
	b := bytes.Clone(frame)
	data := b[8 : len(b)-4]
	edit(data)
	c := teltonika.CRC16(data)
	b[len(b)-2], b[len(b)-1] = byte(c>>8), byte(c)
	return b
}

func TestMessageErrors(t *testing.T) {
	t7 := mustHex(t, vecT7)
	for name, frame := range map[string][]byte{
		"AVL frame":  mustHex(t, vecT2),
		"bad crc":    append(bytes.Clone(t7[:len(t7)-1]), 0),
		"bad size":   reCRC(func(d []byte) { d[6] = 0x0d }, t7),
		"bad type":   reCRC(func(d []byte) { d[2] = 0x07 }, t7),
		"quantity 2": reCRC(func(d []byte) { d[1] = 2 }, t7),
		"truncated":  t7[:10],
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := teltonika.DecodeMessage(frame); !errors.Is(err, teltonika.ErrMalformed) {
				t.Fatalf("err = %v", err)
			}
		})
	}
	if _, err := teltonika.AppendCommand(nil, ""); err == nil {
		t.Error("empty command accepted")
	}
	if _, err := teltonika.AppendCommand(nil, strings.Repeat("x", teltonika.MaxCommandLength+1)); err == nil {
		t.Error("long command accepted")
	}
	m, err := teltonika.DecodeMessage(teltonika.AppendResponse(nil, "DOUT1:1 DOUT2:1"))
	if err != nil || m.Type != teltonika.TypeResponse || m.Text != "DOUT1:1 DOUT2:1" {
		t.Fatalf("response = %+v, %v", m, err)
	}
}

func TestRoundTrip(t *testing.T) {
	recs := []teltonika.Record{{
		Time: time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC), Priority: teltonika.PriorityPanic,
		Lon: 7.4246, Lat: 43.7384, Altitude: 55, Angle: 270, Satellites: 11, Speed: 63, EventID: 247,
		IO: []teltonika.IO{{ID: 239, Size: 1, Value: 1}, {ID: 66, Size: 2, Value: 12800}, {ID: 247, Size: 1, Value: 1},
			{ID: 318, Size: 1, Value: 2}, {ID: 241, Size: 4, Value: 20801}, {ID: 11, Size: 8, Value: 1 << 40}},
	}, {
		Time: time.Date(2026, 3, 1, 8, 0, 1, 0, time.UTC), Lon: -1.1, Lat: -2.2, Altitude: -10,
		IO: []teltonika.IO{{ID: 69, Size: 1, Value: 2}},
	}}
	for _, codec := range []teltonika.Codec{teltonika.Codec8E, teltonika.Codec16} {
		frame, err := teltonika.AppendFrame(nil, codec, recs)
		if err != nil {
			t.Fatal(err)
		}
		p, err := teltonika.Decode(frame)
		if err != nil {
			t.Fatalf("%v: %v", codec, err)
		}
		if p.Codec != codec || len(p.Records) != 2 {
			t.Fatalf("%v: %d records", codec, len(p.Records))
		}
		r := p.Records[0]
		if !r.Time.Equal(recs[0].Time) || r.Lat != 43.7384 || r.Lon != 7.4246 || r.Priority != 2 || r.EventID != 247 || len(r.IO) != 6 {
			t.Fatalf("%v: record %+v", codec, r)
		}
		if io, _ := r.Lookup(11); io.Value != 1<<40 {
			t.Fatalf("%v: IO 11 = %d", codec, io.Value)
		}
		if io, _ := r.Lookup(318); io.Value != 2 {
			t.Fatalf("%v: IO 318", codec)
		}
		if p.Records[1].Altitude != -10 || len(p.Records[1].IO) != 1 {
			t.Fatalf("%v: record 2 %+v", codec, p.Records[1])
		}
	}
	// Codec 8 truncates ids to a byte; 318 does not fit.
	frame, err := teltonika.AppendFrame(nil, teltonika.Codec8, recs[1:])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := teltonika.Decode(frame); err != nil {
		t.Fatal(err)
	}
	if _, err := teltonika.AppendFrame(nil, teltonika.Codec8, []teltonika.Record{{IO: []teltonika.IO{{ID: 256}}}}); err == nil {
		t.Fatal("variable IO in codec 8 accepted")
	}
	if _, err := teltonika.AppendFrame(nil, teltonika.Codec12, recs); err == nil {
		t.Fatal("codec 12 AVL accepted")
	}
}

func TestIOInt(t *testing.T) {
	for _, tc := range []struct {
		io   teltonika.IO
		want int64
	}{
		{teltonika.IO{Size: 1, Value: 0xff}, -1},
		{teltonika.IO{Size: 2, Value: 0xfffe}, -2},
		{teltonika.IO{Size: 4, Value: 0xfffffffd}, -3},
		{teltonika.IO{Size: 8, Value: 5}, 5},
	} {
		if got := tc.io.Int(); got != tc.want {
			t.Errorf("%+v.Int() = %d, want %d", tc.io, got, tc.want)
		}
	}
}

func TestUDP(t *testing.T) {
	h := teltonika.UDPHeader{PacketID: 0xCAFE, AVLPacketID: 0x07, IMEI: "352093086403655"}
	dgram, err := teltonika.AppendUDP(nil, h, mustHex(t, vecT3))
	if err != nil {
		t.Fatal(err)
	}
	var p teltonika.Packet
	got, err := p.DecodeUDP(dgram)
	if err != nil || got != h || len(p.Records) != 1 || p.Records[0].Speed != 95 {
		t.Fatalf("DecodeUDP = %+v, %v", got, err)
	}
	if ack := teltonika.AppendUDPAck(nil, h, 1); !bytes.Equal(ack, []byte{0, 5, 0xCA, 0xFE, 1, 7, 1}) {
		t.Fatalf("ack %x", ack)
	}
	// Traccar's UDP vector (TeltonikaProtocolDecoderTest).
	tv := mustHex(t, "003DCAFE0105000F33353230393330383634303336353508010000016B4F815B30010000000000000000000000000000000103021503010101425DBC000001")
	got, err = p.DecodeUDP(tv)
	if err != nil || got.IMEI != "352093086403655" || got.PacketID != 0xCAFE || got.AVLPacketID != 5 || len(p.Records) != 1 {
		t.Fatalf("traccar UDP vector: %+v, %v", got, err)
	}
	for name, b := range map[string][]byte{
		"short":      dgram[:5],
		"bad length": append(bytes.Clone(dgram), 0),
		"imei zero":  func() []byte { b := bytes.Clone(dgram); b[6], b[7] = 0, 0; return b }(),
		"imei alpha": func() []byte { b := bytes.Clone(dgram); b[8] = 'x'; return b }(),
		"no records": dgram[:25],
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := p.DecodeUDP(b); !errors.Is(err, teltonika.ErrMalformed) {
				t.Fatalf("err = %v", err)
			}
		})
	}
}

// scanAll frames stream with SplitTCP, reading it in chunks of chunk bytes.
func scanAll(stream []byte, chunk int) ([][]byte, error) {
	sc := bufio.NewScanner(&chunkReader{b: stream, n: chunk})
	sc.Buffer(make([]byte, 0, 64), teltonika.MaxFrameLength)
	sc.Split(teltonika.SplitTCP)
	var out [][]byte
	for sc.Scan() {
		out = append(out, bytes.Clone(sc.Bytes()))
	}
	return out, sc.Err()
}

type chunkReader struct {
	b []byte
	n int
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, ioEOF
	}
	n := min(len(p), r.n, len(r.b))
	copy(p, r.b[:n])
	r.b = r.b[n:]
	return n, nil
}

func TestSplitTCP(t *testing.T) {
	frames := [][]byte{mustHex(t, vecT1), mustHex(t, vecT2), {0xFF}, mustHex(t, vecT4), mustHex(t, vecT7)}
	stream := bytes.Join(frames, nil)
	for chunk := 1; chunk <= len(stream); chunk++ {
		got, err := scanAll(stream, chunk)
		if err != nil {
			t.Fatalf("chunk %d: %v", chunk, err)
		}
		if len(got) != len(frames) {
			t.Fatalf("chunk %d: %d frames", chunk, len(got))
		}
		for i := range got {
			if !bytes.Equal(got[i], frames[i]) {
				t.Fatalf("chunk %d frame %d: %x", chunk, i, got[i])
			}
		}
	}
	for name, tc := range map[string]struct {
		in   string
		want error
	}{
		"truncated data": {vecT2[:40], teltonika.ErrTruncated},
		"truncated imei": {vecT1[:10], teltonika.ErrTruncated},
		"imei too long":  {"0100", teltonika.ErrTooLong},
		"data too long":  {"0000000000100000", teltonika.ErrTooLong},
		"bad preamble":   {"0000000100000010", teltonika.ErrMalformed},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := scanAll(mustHex(t, tc.in), 3); !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}
