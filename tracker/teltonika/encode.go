package teltonika

import (
	"encoding/binary"
	"fmt"
	"math"
)

// AppendFrame appends a complete TCP data frame holding recs in codec
// (Codec8, Codec8E or Codec16), as a device would send it. Simulators
// (convoi loadgen) and tests use it; the server never encodes AVL data.
// Fixed-size IO elements are grouped by Size; elements with Size 0 go in the
// Codec 8E variable-length group and are refused by the other codecs.
func AppendFrame(dst []byte, codec Codec, recs []Record) ([]byte, error) {
	if codec != Codec8 && codec != Codec8E && codec != Codec16 {
		return dst, fmt.Errorf("%w: cannot encode %v", ErrCodec, codec)
	}
	if len(recs) == 0 || len(recs) > 255 {
		return dst, fmt.Errorf("teltonika: %d records, want 1..255", len(recs))
	}
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0, 0, 0, 0, 0)
	data := len(dst)
	dst = append(dst, byte(codec), byte(len(recs)))
	wide := codec != Codec8
	putN := func(n int) {
		if codec == Codec8E {
			dst = binary.BigEndian.AppendUint16(dst, uint16(n))
		} else {
			dst = append(dst, byte(n))
		}
	}
	putID := func(id uint16) {
		if wide {
			dst = binary.BigEndian.AppendUint16(dst, id)
		} else {
			dst = append(dst, byte(id))
		}
	}
	for i := range recs {
		r := &recs[i]
		dst = binary.BigEndian.AppendUint64(dst, uint64(r.Time.UnixMilli()))
		dst = append(dst, byte(r.Priority))
		dst = binary.BigEndian.AppendUint32(dst, uint32(int32(math.Round(r.Lon*1e7))))
		dst = binary.BigEndian.AppendUint32(dst, uint32(int32(math.Round(r.Lat*1e7))))
		dst = binary.BigEndian.AppendUint16(dst, uint16(r.Altitude))
		dst = binary.BigEndian.AppendUint16(dst, r.Angle)
		dst = append(dst, r.Satellites)
		dst = binary.BigEndian.AppendUint16(dst, r.Speed)
		putID(r.EventID)
		if codec == Codec16 {
			dst = append(dst, r.GenerationType)
		}
		putN(len(r.IO))
		for _, size := range [4]uint8{1, 2, 4, 8} {
			n := 0
			for _, io := range r.IO {
				if io.Size == size {
					n++
				}
			}
			putN(n)
			for _, io := range r.IO {
				if io.Size != size {
					continue
				}
				putID(io.ID)
				switch size {
				case 1:
					dst = append(dst, byte(io.Value))
				case 2:
					dst = binary.BigEndian.AppendUint16(dst, uint16(io.Value))
				case 4:
					dst = binary.BigEndian.AppendUint32(dst, uint32(io.Value))
				case 8:
					dst = binary.BigEndian.AppendUint64(dst, io.Value)
				}
			}
		}
		nx := 0
		for _, io := range r.IO {
			switch io.Size {
			case 0:
				nx++
			case 1, 2, 4, 8:
			default:
				return dst[:start], fmt.Errorf("teltonika: IO %d size %d", io.ID, io.Size)
			}
		}
		if nx > 0 && codec != Codec8E {
			return dst[:start], fmt.Errorf("teltonika: variable-length IO needs codec 8E")
		}
		if codec == Codec8E {
			putN(nx)
			for _, io := range r.IO {
				if io.Size == 0 {
					dst = binary.BigEndian.AppendUint16(dst, io.ID)
					dst = binary.BigEndian.AppendUint16(dst, uint16(len(io.Bytes)))
					dst = append(dst, io.Bytes...)
				}
			}
		}
	}
	dst = append(dst, byte(len(recs)))
	if len(dst)-data > MaxDataLength {
		return dst[:start], ErrTooLong
	}
	binary.BigEndian.PutUint32(dst[start+4:], uint32(len(dst)-data))
	return binary.BigEndian.AppendUint32(dst, uint32(CRC16(dst[data:]))), nil
}

// AppendIMEI appends the login frame for imei.
func AppendIMEI(dst []byte, imei string) []byte {
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(imei)))
	return append(dst, imei...)
}
