package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/convoi/convoi"
	"github.com/convoi/convoi/cap"
)

// alertOutbox writes each CAP alert sent to partner forces as a file,
// DIR/IDENTIFIER.xml (mode 0600, written to a temporary file and renamed,
// so a reader never sees half an alert), for the gateway that forwards
// them (a CAP feed, a secure mail relay). The directory is the data
// directory's alerts/ by default.
type alertOutbox struct {
	Dir       string
	Responder *incidentResponder
	Incidents convoi.IncidentService
}

var _ convoi.IncidentAlertService = (*alertOutbox)(nil)

// SendIncidentAlert writes the alert of inc as it stands.
func (o *alertOutbox) SendIncidentAlert(ctx context.Context, inc *convoi.Incident) error {
	sg, err := o.Incidents.FindSightings(ctx, inc.ID)
	if err != nil {
		return err
	}
	doc, err := o.Responder.Alert(ctx, inc, sg)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return fmt.Errorf("alert outbox: %w", err)
	}
	name := cap.Identifier(o.Responder.AlertSender, inc.ID, inc.Version) + ".xml"
	tmp, err := os.CreateTemp(o.Dir, ".alert-*")
	if err != nil {
		return fmt.Errorf("alert outbox: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(doc); err != nil {
		tmp.Close()
		return fmt.Errorf("alert outbox: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("alert outbox: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("alert outbox: %w", err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(o.Dir, name)); err != nil {
		return fmt.Errorf("alert outbox: %w", err)
	}
	return nil
}
