package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/convoi/convoi/seal"
)

// loadSealKey gives the store the keys that seal schedules at rest.
func (a *App) loadSealKey() error {
	path := a.SealKeyFile
	if path == "" {
		def := filepath.Join(a.DataDir, "seal.key")
		if _, err := os.Stat(def); err == nil {
			path = def
		}
	}
	if path == "" {
		if a.RequireSeal {
			return fmt.Errorf("no seal key: drawn departures and routes are sealed at rest with a key kept outside the database; " +
				"create one with 'convoi seal keygen FILE' and pass --seal-key FILE (or CONVOI_SEAL_KEY)")
		}
		return nil
	}
	k, err := seal.Load(path)
	if err != nil {
		return err
	}
	a.setSealer(k)
	return nil
}

func runSeal(ctx context.Context, env *Env, args []string) error {
	return runGroup(ctx, env, "seal", []command{
		{"keygen", "write a new key file: keygen FILE", runSealKeygen},
		{"rotate", "put a new key first, reseal every schedule, drop the old keys", runSealRotate},
	}, args)
}

func runSealKeygen(_ context.Context, env *Env, args []string) error {
	flags := newFlagSet(env, "seal keygen").args("FILE", 1, 1)
	if err := parseFlags(flags, args); err != nil {
		return err
	}
	file := flags.Arg(0)
	if err := seal.CreateKeyFile(file); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%s exists: rotate its keys with 'convoi seal rotate'", file)
		}
		return err
	}
	fmt.Fprintf(env.Stdout, "Seal key written to %s (mode 0600). Keep it out of the database's backups.\n", file)
	return nil
}

// runSealRotate puts a new key first in the key file, reseals every
// schedule value with it, and drops the old keys (unless --keep-old). Run
// it with the server stopped: a running server keeps sealing with the key
// it loaded.
func runSealRotate(ctx context.Context, env *Env, args []string) error {
	a := NewApp()
	fs := newFlagSet(env, "seal rotate")
	fs.StringVar(&a.DataDir, "data", envDefault(env, "CONVOI_DATA", a.DataDir), "data directory (CONVOI_DATA)")
	fs.StringVar(&a.SealKeyFile, "seal-key", envDefault(env, "CONVOI_SEAL_KEY", ""), "the key file to rotate (CONVOI_SEAL_KEY)")
	storeFlag(fs, env, a)
	keepOld := fs.Bool("keep-old", false, "keep the old keys in the file (for backups sealed with them)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if a.SealKeyFile == "" {
		return errors.New("--seal-key FILE required")
	}
	if _, err := seal.Load(a.SealKeyFile); err != nil {
		return err
	}
	// First check that the key file opens every sealed value (a reseal
	// with its current key, which only ever seals more): a wrong key file
	// is refused before it is changed.
	if err := a.OpenExistingStore(ctx); err != nil {
		return err
	}
	_, err := a.DB.Reseal(ctx)
	if cerr := a.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("%s does not open the schedules in %s (%s): nothing changed", a.SealKeyFile, a.DataDir, errorText(err))
	}
	id, err := seal.AddKey(a.SealKeyFile)
	if err != nil {
		return err
	}
	a = &App{DataDir: a.DataDir, SealKeyFile: a.SealKeyFile, Now: a.Now}
	if err := a.OpenStore(ctx); err != nil {
		return err
	}
	n, err := a.reseal(ctx)
	if cerr := a.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("reseal (the key file now starts with the new key %s and still holds the old ones; run 'convoi seal rotate' again): %w", id, err)
	}
	if !*keepOld {
		if err := seal.DropKeys(a.SealKeyFile); err != nil {
			return err
		}
	}
	fmt.Fprintf(env.Stdout, "New key %s; %d sealed values rewritten", id, n)
	if *keepOld {
		fmt.Fprintln(env.Stdout, "; old keys kept.")
	} else {
		fmt.Fprintln(env.Stdout, "; old keys dropped.")
	}
	return nil
}
