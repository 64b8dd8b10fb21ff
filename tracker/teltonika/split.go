package teltonika

import (
	"encoding/binary"
	"fmt"
)

// SplitTCP is a bufio.SplitFunc for the device-to-server TCP stream. It
// returns three kinds of token:
//
//   - the IMEI login: u16 length (1..MaxIMEILength) and the digits;
//   - a data frame: 4 zero bytes, u32 length (at most MaxDataLength), data,
//     u32 CRC — the whole frame, for Decode or DecodeMessage;
//   - a single 0xFF byte, the keep-alive ping (see IsPing).
//
// It checks only lengths, never content, and fails with ErrTooLong as soon
// as a declared length is over the limit, so a peer cannot make the reader
// buffer more than MaxFrameLength bytes. At EOF a partial frame is
// ErrTruncated.
func SplitTCP(data []byte, atEOF bool) (advance int, token []byte, err error) {
	if len(data) == 0 {
		return 0, nil, nil
	}
	if data[0] == 0xFF {
		return 1, data[:1], nil
	}
	need := 0
	switch {
	case len(data) < 2:
	case data[0] != 0 || data[1] != 0:
		n := int(binary.BigEndian.Uint16(data))
		if n > MaxIMEILength {
			return 0, nil, fmt.Errorf("%w: IMEI length %d", ErrTooLong, n)
		}
		need = n + 2
	case len(data) < 8:
	default:
		if data[2] != 0 || data[3] != 0 {
			return 0, nil, fmt.Errorf("%w: bad preamble", ErrMalformed)
		}
		n := binary.BigEndian.Uint32(data[4:])
		if n > MaxDataLength {
			return 0, nil, fmt.Errorf("%w: data length %d", ErrTooLong, n)
		}
		need = int(n) + 12
	}
	if need > 0 && len(data) >= need {
		return need, data[:need:need], nil
	}
	if atEOF {
		return 0, nil, ErrTruncated
	}
	return 0, nil, nil
}
