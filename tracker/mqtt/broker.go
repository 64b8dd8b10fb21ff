package mqtt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// HandlerTimeout bounds one Handler call; Close ends it sooner.
const HandlerTimeout = 30 * time.Second

// Handler stores one published message. It returns nil once the message
// is durable (or is to be dropped for good); an error withholds the PUBACK.
type Handler func(ctx context.Context, topic string, payload []byte) error

// Broker is the embedded MQTT broker. Set the fields, then Open.
type Broker struct {
	Addr    string // listen address, e.g. "127.0.0.1:1883"
	Topic   string // filter of the topics handed to Handler
	Handler Handler
	Logger  *slog.Logger // the broker's own log; discarded if nil
	// Authenticate admits a client by the username and password of its
	// CONNECT; it is required: without it Open fails, so the broker is
	// off until credentials are configured. An admitted client may
	// publish only to the Topic-matching topic whose last level is its
	// username (a tracker's own device ID), and may subscribe to nothing.
	Authenticate func(username string, password []byte) bool
	// Authorize, when set, replaces that rule: whether the client logged
	// in as username may publish (write) to or subscribe to topic.
	Authorize func(username, topic string, write bool) bool

	srv *mochi.Server
	tcp *listeners.TCP
	// ctx bounds every Handler call; Close cancels it, so that a store
	// still busy with a message gives up (unacknowledged, the client resends).
	ctx    context.Context
	cancel context.CancelFunc
}

// Open listens on Addr (synchronously) and serves in the background. Only
// clients Authenticate admits may connect.
func (b *Broker) Open() error {
	if b.Handler == nil || b.Topic == "" {
		return fmt.Errorf("mqtt broker: Handler and Topic required")
	}
	if b.Authenticate == nil {
		return fmt.Errorf("mqtt broker: Authenticate required (no anonymous clients)")
	}
	log := b.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	b.ctx, b.cancel = context.WithCancel(context.Background())
	b.srv = mochi.New(&mochi.Options{Logger: log})
	if err := b.srv.AddHook(&storeHook{b: b}, nil); err != nil {
		return err
	}
	b.tcp = listeners.NewTCP(listeners.Config{Type: listeners.TypeTCP, ID: "convoi", Address: b.Addr})
	if err := b.srv.AddListener(b.tcp); err != nil {
		return fmt.Errorf("mqtt listen: %w", err)
	}
	go b.srv.Serve()
	return nil
}

// Address returns the bound address.
func (b *Broker) Address() string { return b.tcp.Address() }

// Close stops the broker. Handler calls still running see their context
// cancelled; their messages stay unacknowledged.
func (b *Broker) Close() error {
	if b.srv == nil {
		return nil
	}
	b.cancel()
	return b.srv.Close()
}

// storeHook hands matching publishes to the Handler before the broker
// answers PUBACK (mochi calls OnPublish synchronously, ahead of the ack).
type storeHook struct {
	mochi.HookBase
	b *Broker
}

func (h *storeHook) ID() string { return "convoi-store" }

func (h *storeHook) Provides(bt byte) bool {
	return bt == mochi.OnPublish || bt == mochi.OnConnectAuthenticate || bt == mochi.OnACLCheck
}

// OnConnectAuthenticate admits the clients Authenticate admits.
func (h *storeHook) OnConnectAuthenticate(cl *mochi.Client, pk packets.Packet) bool {
	return h.b.Authenticate(string(pk.Connect.Username), pk.Connect.Password)
}

// OnACLCheck lets a client publish to its own topic only, and read nothing:
// positions of escorts are for convoi alone.
func (h *storeHook) OnACLCheck(cl *mochi.Client, topic string, write bool) bool {
	if h.b.Authorize != nil {
		return h.b.Authorize(string(cl.Properties.Username), topic, write)
	}
	return write && OwnTopic(h.b.Topic, topic, string(cl.Properties.Username))
}

// OwnTopic reports whether topic matches filter and ends in the level
// device: the only topic a device's client may publish to.
func OwnTopic(filter, topic, device string) bool {
	i := strings.LastIndexByte(topic, '/')
	return device != "" && Match(filter, topic) && topic[i+1:] == device
}

func (h *storeHook) OnPublish(cl *mochi.Client, pk packets.Packet) (packets.Packet, error) {
	if !Match(h.b.Topic, pk.TopicName) {
		return pk, nil
	}
	ctx, cancel := context.WithTimeout(h.b.ctx, HandlerTimeout)
	defer cancel()
	if err := h.b.Handler(ctx, pk.TopicName, bytes.Clone(pk.Payload)); err != nil {
		return pk, packets.ErrRejectPacket // no PUBACK: the client resends
	}
	return pk, nil
}

// Subscriber consumes positions from an external broker. Set the fields,
// then Open.
type Subscriber struct {
	URL      string // e.g. "tcp://127.0.0.1:1883"
	Topic    string
	ClientID string // default "convoi-tracker"; the session persists (QoS 1 redelivery)
	Username string
	Password string
	Handler  Handler

	client paho.Client
	// ctx bounds every Handler call; Close cancels it.
	ctx    context.Context
	cancel context.CancelFunc
}

// Open connects and subscribes with QoS 1, synchronously. Messages are
// acknowledged only after Handler returns nil.
func (s *Subscriber) Open(ctx context.Context) error {
	if s.Handler == nil || s.Topic == "" || s.URL == "" {
		return fmt.Errorf("mqtt subscriber: URL, Topic and Handler required")
	}
	id := s.ClientID
	if id == "" {
		id = "convoi-tracker"
	}
	opts := paho.NewClientOptions().AddBroker(s.URL).SetClientID(id).SetUsername(s.Username).SetPassword(s.Password).
		SetCleanSession(false).SetOrderMatters(true).SetAutoAckDisabled(true).SetAutoReconnect(true).
		SetConnectTimeout(10 * time.Second)
	s.ctx, s.cancel = context.WithCancel(context.Background())
	handler := func(_ paho.Client, m paho.Message) {
		hctx, cancel := context.WithTimeout(s.ctx, HandlerTimeout)
		defer cancel()
		if err := s.Handler(hctx, m.Topic(), m.Payload()); err == nil {
			m.Ack()
		}
	}
	opts.SetOnConnectHandler(func(c paho.Client) {
		c.Subscribe(s.Topic, 1, handler) // again after each reconnect
	})
	s.client = paho.NewClient(opts)
	tok := s.client.Connect()
	select {
	case <-tok.Done():
	case <-ctx.Done():
		s.Close()
		return ctx.Err()
	}
	if err := tok.Error(); err != nil {
		s.cancel()
		return fmt.Errorf("mqtt connect %s: %w", s.URL, err)
	}
	sub := s.client.Subscribe(s.Topic, 1, handler)
	if !sub.WaitTimeout(10*time.Second) || sub.Error() != nil {
		s.Close()
		return fmt.Errorf("mqtt subscribe %s: %w", s.Topic, errors.Join(sub.Error(), errors.New("timeout")))
	}
	return nil
}

// Close disconnects. Handler calls still running see their context
// cancelled; their messages stay unacknowledged and the broker redelivers.
func (s *Subscriber) Close() error {
	if s.cancel != nil {
		s.cancel()
	}
	if s.client != nil {
		s.client.Disconnect(250)
	}
	return nil
}
