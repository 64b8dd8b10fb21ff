package tracker

import (
	"context"
	"fmt"

	"github.com/convoi/convoi"
	"github.com/convoi/convoi/tracker/mqtt"
)

// openMQTT starts the embedded broker on MQTTAddr, or subscribes to the
// external broker at MQTTURL.
func (s *Server) openMQTT() error {
	if s.MQTTURL != "" {
		sub := &mqtt.Subscriber{URL: s.MQTTURL, Topic: s.MQTTTopic, Handler: s.handleMQTT}
		if err := sub.Open(s.ctx); err != nil {
			return err
		}
		s.mqtt = sub
		return nil
	}
	if s.DeviceSecrets == nil {
		return fmt.Errorf("tracker: the embedded MQTT broker needs DeviceSecrets (per-tracker credentials)")
	}
	b := &mqtt.Broker{Addr: s.MQTTAddr, Topic: s.MQTTTopic, Handler: s.handleMQTT, Authenticate: s.authenticateDevice}
	if err := b.Open(); err != nil {
		return err
	}
	s.mqtt, s.mqttBroker = b, b
	return nil
}

// MQTTAddress returns the embedded broker's bound address, or "".
func (s *Server) MQTTAddress() string {
	if s.mqttBroker == nil {
		return ""
	}
	return s.mqttBroker.Address()
}

// handleMQTT stores one published payload. Invalid payloads and unknown
// devices are logged and dropped (acknowledged: resending cannot fix
// them); a store failure returns an error so that no PUBACK is sent.
func (s *Server) handleMQTT(ctx context.Context, topic string, payload []byte) error {
	now := s.Now()
	msgs, err := mqtt.Decode(topic, payload, now)
	if err != nil {
		s.logDrop("mqtt bad payload", "topic", topic, "error", err)
		return nil
	}
	// Group by device, keeping each device's order.
	var order []convoi.DeviceID
	byDev := make(map[convoi.DeviceID][]mqtt.Message)
	for _, m := range msgs {
		d := m.Position.DeviceID
		if _, ok := byDev[d]; !ok {
			order = append(order, d)
		}
		byDev[d] = append(byDev[d], m)
	}
	for _, d := range order {
		if s.mqttBroker != nil && !mqtt.OwnTopic(s.MQTTTopic, topic, string(d)) {
			// The broker let the client publish to its own topic only; a
			// payload naming another device is not its to send.
			s.logDrop("mqtt message for another device dropped", "device", string(d))
			continue
		}
		t, err := s.lookup(ctx, d, convoi.ProtocolMQTT)
		if err != nil {
			if convoi.ErrorCode(err) == convoi.ENOTFOUND {
				s.logDrop("unknown device rejected", "protocol", "mqtt", "device", string(d), "topic", topic)
				continue
			}
			return err
		}
		dev := s.device(t)
		var ps []convoi.Position
		var evs []convoi.DeviceEvent
		for _, m := range byDev[d] {
			p := m.Position
			p.TrackerID, p.ServerTime = t.ID, now
			if p.FixTime.Before(minFixTime) || !p.FixTime.Before(maxFixTime) {
				p.FixTime, p.Valid = now, false
			}
			ps = append(ps, p)
			if m.Event != nil {
				e := *m.Event
				e.TrackerID, e.ServerTime, e.Time = t.ID, now, p.FixTime
				evs = append(evs, e)
			}
		}
		dev.lock()
		err = s.store(ctx, dev, ps, evs)
		dev.unlock()
		if err != nil {
			s.Logger.Error("store positions", "device", string(d), "error", err)
			return fmt.Errorf("store: %w", err)
		}
	}
	return nil
}
