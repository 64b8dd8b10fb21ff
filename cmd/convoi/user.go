package main

import (
	"bufio"
	"context"
	"fmt"
	"strings"

	"github.com/convoi/convoi"
	"github.com/convoi/convoi/auth"
	"github.com/convoi/convoi/sqlite"
)

func runUser(ctx context.Context, env *Env, args []string) error {
	if len(args) == 0 || args[0] != "add" {
		fmt.Fprintln(env.Stderr, "Usage: convoi user add --username NAME --role ROLE [flags]")
		return errUsage
	}
	a := NewApp()
	fs := newFlagSet(env, "user add")
	fs.StringVar(&a.DataDir, "data", envDefault(env, "CONVOI_DATA", a.DataDir), "data directory (CONVOI_DATA)")
	var u convoi.User
	var role string
	var officer, site int64
	fs.StringVar(&u.Username, "username", "", "login name (required)")
	fs.StringVar(&u.Name, "name", "", "display name")
	fs.StringVar(&role, "role", "", "one of admin, planner, control, commander, auditor, crew, liaison (required)")
	fs.Int64Var(&officer, "officer", 0, "officer id (crew users)")
	fs.Int64Var(&site, "site", 0, "site id (liaison users)")
	passwordStdin := fs.Bool("password-stdin", false, "read the password from the first line of standard input (else CONVOI_PASSWORD)")
	token := fs.String("api-token", "", "also issue an API token with this name and print it once")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	u.Role, u.OfficerID, u.SiteID = convoi.Role(role), convoi.OfficerID(officer), convoi.SiteID(site)
	if err := u.Validate(); err != nil {
		return fmt.Errorf("%s", convoi.ErrorMessage(err))
	}
	password := env.Getenv("CONVOI_PASSWORD")
	if *passwordStdin {
		line, err := bufio.NewReader(env.Stdin).ReadString('\n')
		if err != nil && line == "" {
			return fmt.Errorf("read password from standard input: %w", err)
		}
		password = strings.TrimRight(line, "\r\n")
	}
	if err := auth.ValidatePassword(password); err != nil {
		return fmt.Errorf("password (from --password-stdin or CONVOI_PASSWORD): %s", convoi.ErrorMessage(err))
	}
	hash, err := auth.HashPassword(password, auth.DefaultParams)
	if err != nil {
		return err
	}
	u.PasswordHash = hash

	if err := a.OpenStore(ctx); err != nil {
		return err
	}
	defer a.Close()
	users := sqlite.NewUserService(a.DB)
	if err := users.CreateUser(ctx, &u); err != nil {
		return fmt.Errorf("create user: %s", convoi.ErrorMessage(err))
	}
	fmt.Fprintf(env.Stdout, "user %s (id %d, role %s) created\n", u.Username, u.ID, u.Role)
	if *token != "" {
		au := &auth.Authenticator{Users: users, Tokens: sqlite.NewTokenService(a.DB), Now: a.Now}
		secret, _, err := au.IssueAPIToken(convoi.NewContextWithUser(ctx, &u), u.ID, *token, nil)
		if err != nil {
			return fmt.Errorf("issue API token: %s", convoi.ErrorMessage(err))
		}
		fmt.Fprintf(env.Stdout, "API token (shown once, store it now): %s\n", secret)
	}
	return nil
}
