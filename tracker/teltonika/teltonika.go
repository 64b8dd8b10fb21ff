// Package teltonika speaks the Teltonika FMB/FMC device protocol: it splits
// a TCP byte stream into frames (SplitTCP, a bufio.SplitFunc), decodes the
// IMEI login, AVL data frames in Codec 8, 8 Extended and 16 (checking the
// CRC-16/IBM), UDP datagrams, and encodes and decodes Codec 12 commands.
//
// Framing is apart from decoding, as in traccar's TeltonikaFrameDecoder and
// TeltonikaProtocolDecoder: SplitTCP only finds frame boundaries and caps
// declared lengths; Decode validates and interprets one complete frame.
//
// The package is pure: no I/O, no clock, no logging, no allocation per record
// when a Packet is reused. It imports only the standard library; it must not
// import convoi, tracker or any store.
package teltonika

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// Codec identifies the encoding of a Teltonika frame.
type Codec uint8

const (
	Codec8   Codec = 0x08
	Codec8E  Codec = 0x8E
	Codec12  Codec = 0x0C
	Codec16  Codec = 0x10
	codecNil Codec = 0
)

func (c Codec) String() string {
	switch c {
	case Codec8:
		return "codec 8"
	case Codec8E:
		return "codec 8E"
	case Codec12:
		return "codec 12"
	case Codec16:
		return "codec 16"
	}
	return fmt.Sprintf("codec 0x%02x", uint8(c))
}

// Priority of an AVL record. PriorityPanic is what a device sends when its
// panic scenario fires.
type Priority uint8

const (
	PriorityLow   Priority = 0
	PriorityHigh  Priority = 1
	PriorityPanic Priority = 2
)

// Limits. MaxDataLength caps the declared data length of a TCP frame: a
// larger declaration is refused before anything is buffered, so a hostile
// peer cannot make the server allocate. Real devices send at most a few KiB.
const (
	MaxIMEILength = 17
	MaxDataLength = 64 << 10
	// MaxFrameLength is the largest frame SplitTCP returns.
	MaxFrameLength = MaxDataLength + 12
)

// Errors. Every decoding error wraps ErrMalformed, so callers can tell bad
// input (close the connection, acknowledge nothing) from other failures.
var (
	ErrMalformed = errors.New("teltonika: malformed frame")
	ErrCRC       = fmt.Errorf("%w: CRC mismatch", ErrMalformed)
	ErrTooLong   = fmt.Errorf("%w: declared length over limit", ErrMalformed)
	ErrTruncated = fmt.Errorf("%w: truncated", ErrMalformed)
	ErrCodec     = fmt.Errorf("%w: unsupported codec", ErrMalformed)
)

// IO is one IO element of a record. Size is 1, 2, 4 or 8 for fixed-size
// elements (Value holds them, unsigned) and 0 for a Codec 8E variable-length
// element (Bytes holds it, aliasing the frame).
type IO struct {
	ID    uint16
	Size  uint8
	Value uint64
	Bytes []byte
}

// Int returns the value sign-extended from its size: Teltonika sends some
// elements (temperatures, axis accelerations) as two's complement.
func (io IO) Int() int64 {
	switch io.Size {
	case 1:
		return int64(int8(io.Value))
	case 2:
		return int64(int16(io.Value))
	case 4:
		return int64(int32(io.Value))
	}
	return int64(io.Value)
}

// Record is one AVL record. Coordinates are WGS84 degrees, altitude metres,
// angle degrees from north, speed km/h. Speed 0 with zero satellites means
// the device had no fix.
type Record struct {
	Time           time.Time
	Priority       Priority
	Lon, Lat       float64
	Altitude       int16
	Angle          uint16
	Satellites     uint8
	Speed          uint16
	EventID        uint16 // the IO element that triggered the record, 0 for periodic
	GenerationType uint8  // Codec 16 only
	IO             []IO   // aliases Packet storage
}

// Lookup returns the IO element with the given id.
func (r *Record) Lookup(id uint16) (IO, bool) {
	for _, io := range r.IO {
		if io.ID == id {
			return io, true
		}
	}
	return IO{}, false
}

// Packet is a decoded AVL data frame. Reuse one Packet across frames to
// decode without allocating; Records, their IO and any IO.Bytes are valid
// until the next Decode or until the frame buffer is reused.
type Packet struct {
	Codec   Codec
	Records []Record
	ios     []IO
	spans   [][2]int // per record, its range in ios; scratch
}

// Decode decodes one TCP AVL data frame as returned by SplitTCP: preamble,
// data length, codec, records, count and CRC-16/IBM. A frame whose CRC does
// not match returns ErrCRC and must not be acknowledged.
func Decode(frame []byte) (*Packet, error) {
	p := new(Packet)
	if err := p.Decode(frame); err != nil {
		return nil, err
	}
	return p, nil
}

// Decode is the allocation-free form of the package function Decode.
func (p *Packet) Decode(frame []byte) error {
	data, err := tcpData(frame)
	if err != nil {
		return err
	}
	return p.decodeData(data)
}

// tcpData checks a TCP frame's envelope and CRC and returns the data part:
// codec id through the second record count.
func tcpData(frame []byte) ([]byte, error) {
	if len(frame) < 12 {
		return nil, ErrTruncated
	}
	if binary.BigEndian.Uint32(frame) != 0 {
		return nil, fmt.Errorf("%w: bad preamble", ErrMalformed)
	}
	n := binary.BigEndian.Uint32(frame[4:])
	if n > MaxDataLength {
		return nil, ErrTooLong
	}
	if uint64(len(frame)) != uint64(n)+12 {
		return nil, fmt.Errorf("%w: length %d declared, %d present", ErrMalformed, n, len(frame)-12)
	}
	data := frame[8 : 8+n]
	want := binary.BigEndian.Uint32(frame[8+n:])
	if want > 0xFFFF || uint32(CRC16(data)) != want {
		return nil, ErrCRC
	}
	return data, nil
}

// FrameCodec returns the codec of a TCP data frame without validating it, or
// 0 when the frame is too short.
func FrameCodec(frame []byte) Codec {
	if len(frame) < 9 {
		return codecNil
	}
	return Codec(frame[8])
}

// reader is a bounds-checked big-endian cursor. After the first short read
// every method returns zero and err stays set.
type reader struct {
	b   []byte
	off int
	err bool
}

func (r *reader) need(n int) bool {
	if r.err || len(r.b)-r.off < n {
		r.err = true
		return false
	}
	return true
}

func (r *reader) u8() uint8 {
	if !r.need(1) {
		return 0
	}
	v := r.b[r.off]
	r.off++
	return v
}

func (r *reader) u16() uint16 {
	if !r.need(2) {
		return 0
	}
	v := binary.BigEndian.Uint16(r.b[r.off:])
	r.off += 2
	return v
}

func (r *reader) u32() uint32 {
	if !r.need(4) {
		return 0
	}
	v := binary.BigEndian.Uint32(r.b[r.off:])
	r.off += 4
	return v
}

func (r *reader) u64() uint64 {
	if !r.need(8) {
		return 0
	}
	v := binary.BigEndian.Uint64(r.b[r.off:])
	r.off += 8
	return v
}

func (r *reader) bytes(n int) []byte {
	if !r.need(n) {
		return nil
	}
	v := r.b[r.off : r.off+n : r.off+n]
	r.off += n
	return v
}

// decodeData decodes codec id, count, records and the repeated count; data
// must be exactly that long.
func (p *Packet) decodeData(data []byte) error {
	r := reader{b: data}
	codec := Codec(r.u8())
	switch codec {
	case Codec8, Codec8E, Codec16:
	default:
		return fmt.Errorf("%w: 0x%02x", ErrCodec, uint8(codec))
	}
	count := int(r.u8())
	if r.err {
		return ErrTruncated
	}
	p.Codec = codec
	p.Records = p.Records[:0]
	p.ios = p.ios[:0]
	// IO slices are assigned after all records are read, since appending to
	// p.ios may move it.
	p.spans = p.spans[:0]
	for i := 0; i < count; i++ {
		var rec Record
		lo := len(p.ios)
		if err := p.decodeRecord(&r, codec, &rec); err != nil {
			return err
		}
		p.Records = append(p.Records, rec)
		p.spans = append(p.spans, [2]int{lo, len(p.ios)})
	}
	if c2 := int(r.u8()); r.err {
		return ErrTruncated
	} else if c2 != count {
		return fmt.Errorf("%w: record counts %d and %d differ", ErrMalformed, count, c2)
	}
	if r.off != len(data) {
		return fmt.Errorf("%w: %d trailing bytes", ErrMalformed, len(data)-r.off)
	}
	for i := range p.Records {
		s := p.spans[i]
		p.Records[i].IO = p.ios[s[0]:s[1]:s[1]]
	}
	return nil
}

func (p *Packet) decodeRecord(r *reader, codec Codec, rec *Record) error {
	if !r.need(24) {
		return ErrTruncated
	}
	ms := r.u64()
	if ms > 1<<53 {
		return fmt.Errorf("%w: timestamp out of range", ErrMalformed)
	}
	rec.Time = time.UnixMilli(int64(ms)).UTC()
	rec.Priority = Priority(r.u8())
	if rec.Priority > PriorityPanic {
		return fmt.Errorf("%w: priority %d", ErrMalformed, rec.Priority)
	}
	lon, lat := int32(r.u32()), int32(r.u32())
	rec.Lon, rec.Lat = float64(lon)/1e7, float64(lat)/1e7
	if rec.Lon < -180 || rec.Lon > 180 || rec.Lat < -90 || rec.Lat > 90 {
		return fmt.Errorf("%w: coordinates out of range", ErrMalformed)
	}
	rec.Altitude = int16(r.u16())
	rec.Angle = r.u16()
	rec.Satellites = r.u8()
	rec.Speed = r.u16()
	wide := codec != Codec8 // ids are u16 in 8E and 16
	switch codec {
	case Codec8:
		rec.EventID = uint16(r.u8())
		r.u8() // total IO count
	case Codec16:
		rec.EventID = r.u16()
		rec.GenerationType = r.u8()
		r.u8()
	case Codec8E:
		rec.EventID = r.u16()
		r.u16()
	}
	for _, size := range [4]uint8{1, 2, 4, 8} {
		var n int
		if codec == Codec8E {
			n = int(r.u16())
		} else {
			n = int(r.u8())
		}
		if r.err {
			return ErrTruncated
		}
		// Each element takes at least size+1 bytes: refuse a count the
		// rest of the frame cannot hold before growing anything.
		if n*(int(size)+1) > len(r.b)-r.off {
			return ErrTruncated
		}
		for j := 0; j < n; j++ {
			io := IO{Size: size}
			if wide {
				io.ID = r.u16()
			} else {
				io.ID = uint16(r.u8())
			}
			switch size {
			case 1:
				io.Value = uint64(r.u8())
			case 2:
				io.Value = uint64(r.u16())
			case 4:
				io.Value = uint64(r.u32())
			case 8:
				io.Value = r.u64()
			}
			p.ios = append(p.ios, io)
		}
	}
	if codec == Codec8E {
		n := int(r.u16())
		if n*4 > len(r.b)-r.off {
			return ErrTruncated
		}
		for j := 0; j < n; j++ {
			id := r.u16()
			l := int(r.u16())
			b := r.bytes(l)
			if r.err {
				return ErrTruncated
			}
			p.ios = append(p.ios, IO{ID: id, Bytes: b})
		}
	}
	if r.err {
		return ErrTruncated
	}
	return nil
}

// ParseIMEI decodes the login frame: a u16 length and that many ASCII
// digits. The caller answers AcceptIMEI or RejectIMEI.
func ParseIMEI(frame []byte) (string, error) {
	if len(frame) < 2 {
		return "", ErrTruncated
	}
	n := int(binary.BigEndian.Uint16(frame))
	if n == 0 || n > MaxIMEILength {
		return "", fmt.Errorf("%w: IMEI length %d", ErrMalformed, n)
	}
	if len(frame) != n+2 {
		return "", fmt.Errorf("%w: IMEI frame length", ErrMalformed)
	}
	for _, c := range frame[2:] {
		if c < '0' || c > '9' {
			return "", fmt.Errorf("%w: IMEI not digits", ErrMalformed)
		}
	}
	return string(frame[2:]), nil
}

// Answers to the IMEI login.
var (
	AcceptIMEI = []byte{0x01}
	RejectIMEI = []byte{0x00}
)

// AppendAck appends the TCP acknowledgement of a data frame: the u32 number
// of records the server has accepted (durably stored).
func AppendAck(dst []byte, n int) []byte {
	return binary.BigEndian.AppendUint32(dst, uint32(n))
}

// IsPing reports whether frame is the one-byte 0xFF keep-alive some
// firmware sends; it needs no answer.
func IsPing(frame []byte) bool { return len(frame) == 1 && frame[0] == 0xFF }
