package main

import (
	"bufio"
	"context"
	"fmt"
	"strings"

	"github.com/convoi/convoi"
	"github.com/convoi/convoi/auth"
)

func runUser(ctx context.Context, env *Env, args []string) error {
	return runGroup(ctx, env, "user", []command{
		{"add", "create a user in an existing data directory, optionally with an API token", runUserAdd},
	}, args)
}

// runUserAdd: convoi user add --username NAME --role ROLE [--officer ID]
// [--site ID] [--name NAME] [--password-stdin] [--api-token NAME] [--data DIR]
func runUserAdd(ctx context.Context, env *Env, args []string) error {
	a := NewApp()
	fs := newFlagSet(env, "user add")
	fs.StringVar(&a.DataDir, "data", envDefault(env, "CONVOI_DATA", a.DataDir), "data directory holding the database (CONVOI_DATA)")
	storeFlag(fs, env, a)
	var u convoi.User
	var role string
	var officer, site int64
	fs.StringVar(&u.Username, "username", "", "login name (required)")
	fs.StringVar(&u.Name, "name", "", "display name")
	fs.StringVar(&role, "role", "", "one of "+joinRoles()+" (required)")
	fs.Int64Var(&officer, "officer", 0, "officer id (required for crew users)")
	fs.Int64Var(&site, "site", 0, "site id (required for liaison users)")
	passwordStdin := fs.Bool("password-stdin", false, "read the password from the first line of standard input (else CONVOI_PASSWORD)")
	token := fs.String("api-token", "", "also issue an API token with this name and print it once")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	u.Role, u.OfficerID, u.SiteID = convoi.Role(role), convoi.OfficerID(officer), convoi.SiteID(site)
	if err := checkUserFlags(&u); err != nil {
		return err
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

	if err := a.OpenExistingStore(ctx); err != nil {
		return err
	}
	defer a.Close()
	if u.OfficerID != 0 {
		if _, err := a.S.Officers.FindOfficerByID(ctx, u.OfficerID); err != nil {
			return fmt.Errorf("--officer %d: %s", u.OfficerID, convoi.ErrorMessage(err))
		}
	}
	if u.SiteID != 0 {
		if _, err := a.S.Sites.FindSiteByID(ctx, u.SiteID); err != nil {
			return fmt.Errorf("--site %d: %s", u.SiteID, convoi.ErrorMessage(err))
		}
	}
	users := a.S.Users
	if err := users.CreateUser(ctx, &u); err != nil {
		return fmt.Errorf("create user: %s", convoi.ErrorMessage(err))
	}
	fmt.Fprintf(env.Stdout, "user %s (id %d, role %s) created\n", u.Username, u.ID, u.Role)
	if *token != "" {
		au := &auth.Authenticator{Users: users, Tokens: a.S.Tokens, Now: a.Now}
		secret, _, err := au.IssueAPIToken(convoi.NewContextWithUser(ctx, &u), u.ID, *token, nil)
		if err != nil {
			return fmt.Errorf("issue API token: %s", convoi.ErrorMessage(err))
		}
		fmt.Fprintf(env.Stdout, "API token (shown once, store it now): %s\n", secret)
	}
	return nil
}

// checkUserFlags checks the user the flags describe and explains what is
// wrong in terms of the flags (the domain's messages name the API's JSON
// fields, such as officer_id).
func checkUserFlags(u *convoi.User) error {
	switch {
	case u.Username == "":
		return fmt.Errorf("--username is required")
	case u.Role == "":
		return fmt.Errorf("--role is required: one of %s", joinRoles())
	case !u.Role.Valid():
		return fmt.Errorf("--role %q: want one of %s", u.Role, joinRoles())
	case u.Role == convoi.RoleCrew && u.OfficerID == 0:
		return fmt.Errorf("a crew user must be linked to an officer: give --officer ID")
	case u.Role == convoi.RoleLiaison && u.SiteID == 0:
		return fmt.Errorf("a liaison user must be linked to a site: give --site ID")
	case u.OfficerID < 0 || u.SiteID < 0:
		return fmt.Errorf("--officer and --site are positive ids")
	}
	if err := u.Validate(); err != nil {
		if strings.HasPrefix(convoi.ErrorMessage(err), "Username ") {
			return fmt.Errorf("--username %q: %s", u.Username, strings.TrimPrefix(convoi.ErrorMessage(err), "Username "))
		}
		return fmt.Errorf("%s", convoi.ErrorMessage(err))
	}
	return nil
}

func joinRoles() string {
	s := make([]string, len(convoi.Roles))
	for i, r := range convoi.Roles {
		s[i] = string(r)
	}
	return strings.Join(s, ", ")
}
