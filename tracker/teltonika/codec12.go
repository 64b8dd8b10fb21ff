package teltonika

import (
	"encoding/binary"
	"fmt"
)

// Codec 12 message types.
const (
	TypeCommand  uint8 = 0x05 // server to device
	TypeResponse uint8 = 0x06 // device to server
)

// MaxCommandLength caps the text of a Codec 12 command this package encodes.
const MaxCommandLength = 1024

// AppendCommand appends a complete Codec 12 TCP frame carrying text as a
// command (for example "setdigout 11" or "getinfo"). It returns an error when
// text is empty or longer than MaxCommandLength.
func AppendCommand(dst []byte, text string) ([]byte, error) {
	if len(text) == 0 || len(text) > MaxCommandLength {
		return dst, fmt.Errorf("teltonika: command length %d not in 1..%d", len(text), MaxCommandLength)
	}
	return appendCodec12(dst, TypeCommand, []byte(text)), nil
}

func appendCodec12(dst []byte, typ uint8, payload []byte) []byte {
	dst = binary.BigEndian.AppendUint32(dst, 0)
	dst = binary.BigEndian.AppendUint32(dst, uint32(8+len(payload)))
	start := len(dst)
	dst = append(dst, byte(Codec12), 1, typ)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(payload)))
	dst = append(dst, payload...)
	dst = append(dst, 1)
	return binary.BigEndian.AppendUint32(dst, uint32(CRC16(dst[start:])))
}

// Message is a decoded Codec 12 frame.
type Message struct {
	Type uint8 // TypeCommand or TypeResponse
	Text string
}

// DecodeMessage decodes a Codec 12 TCP frame (CRC checked), a command or a
// device's response to one.
func DecodeMessage(frame []byte) (Message, error) {
	data, err := tcpData(frame)
	if err != nil {
		return Message{}, err
	}
	r := reader{b: data}
	if c := Codec(r.u8()); c != Codec12 {
		return Message{}, fmt.Errorf("%w: %v is not codec 12", ErrCodec, c)
	}
	q1 := r.u8()
	typ := r.u8()
	n := r.u32()
	if r.err {
		return Message{}, ErrTruncated
	}
	if uint64(n) != uint64(len(data)-r.off-1) {
		return Message{}, fmt.Errorf("%w: codec 12 size %d", ErrMalformed, n)
	}
	text := r.bytes(int(n))
	q2 := r.u8()
	if r.err {
		return Message{}, ErrTruncated
	}
	if q1 != 1 || q2 != 1 {
		return Message{}, fmt.Errorf("%w: codec 12 quantity %d/%d", ErrMalformed, q1, q2)
	}
	if typ != TypeCommand && typ != TypeResponse {
		return Message{}, fmt.Errorf("%w: codec 12 type 0x%02x", ErrMalformed, typ)
	}
	return Message{Type: typ, Text: string(text)}, nil
}

// AppendResponse appends a Codec 12 response frame, as a device sends it.
// Simulators and tests use it.
func AppendResponse(dst []byte, text string) []byte {
	return appendCodec12(dst, TypeResponse, []byte(text))
}
