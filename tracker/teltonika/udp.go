package teltonika

import (
	"encoding/binary"
	"fmt"
)

// UDPHeader is the envelope of a UDP datagram. The server echoes PacketID
// and AVLPacketID in its acknowledgement.
type UDPHeader struct {
	PacketID    uint16
	AVLPacketID uint8
	IMEI        string
}

// MaxUDPLength is the largest datagram DecodeUDP accepts.
const MaxUDPLength = 65507

// DecodeUDP decodes one UDP datagram: u16 length, u16 packet id, a 0x01
// byte, u8 AVL packet id, u16 IMEI length, IMEI, then codec, records and
// count. UDP frames carry no CRC: the datagram checksum stands in.
func (p *Packet) DecodeUDP(datagram []byte) (UDPHeader, error) {
	var h UDPHeader
	if len(datagram) > MaxUDPLength {
		return h, ErrTooLong
	}
	r := reader{b: datagram}
	n := int(r.u16())
	h.PacketID = r.u16()
	r.u8() // "not usable byte", 0x01
	h.AVLPacketID = r.u8()
	il := int(r.u16())
	if r.err {
		return h, ErrTruncated
	}
	if n != len(datagram)-2 {
		return h, fmt.Errorf("%w: UDP length %d declared, %d present", ErrMalformed, n, len(datagram)-2)
	}
	if il == 0 || il > MaxIMEILength {
		return h, fmt.Errorf("%w: IMEI length %d", ErrMalformed, il)
	}
	imei := r.bytes(il)
	if r.err {
		return h, ErrTruncated
	}
	for _, c := range imei {
		if c < '0' || c > '9' {
			return h, fmt.Errorf("%w: IMEI not digits", ErrMalformed)
		}
	}
	h.IMEI = string(imei)
	return h, p.decodeData(datagram[r.off:])
}

// AppendUDPAck appends the acknowledgement of a UDP datagram: n records
// accepted.
func AppendUDPAck(dst []byte, h UDPHeader, n int) []byte {
	dst = binary.BigEndian.AppendUint16(dst, 5)
	dst = binary.BigEndian.AppendUint16(dst, h.PacketID)
	return append(dst, 0x01, h.AVLPacketID, uint8(n))
}

// AppendUDP appends a UDP datagram carrying the records of the TCP data
// frame frame (used by simulators and tests).
func AppendUDP(dst []byte, h UDPHeader, frame []byte) ([]byte, error) {
	data, err := tcpData(frame)
	if err != nil {
		return dst, err
	}
	start := len(dst)
	dst = append(dst, 0, 0)
	dst = binary.BigEndian.AppendUint16(dst, h.PacketID)
	dst = append(dst, 0x01, h.AVLPacketID)
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(h.IMEI)))
	dst = append(dst, h.IMEI...)
	dst = append(dst, data...)
	binary.BigEndian.PutUint16(dst[start:], uint16(len(dst)-start-2))
	return dst, nil
}
