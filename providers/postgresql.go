package providers

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

func init() {
	register("postgresql", []string{"credentials.password"}, checkPostgres, issuePostgres,
		secretsBoundTo[postgresConfig]("host", "port", "ssl_mode"))
}

type postgresConfig struct {
	Host        string `json:"host"`
	Port        int    `json:"port"`
	Database    string `json:"database"`
	Schema      string `json:"schema"`
	SSLMode     string `json:"ssl_mode"`
	Table       string `json:"table"`
	Credentials struct {
		Username string `json:"username"`
		Password string `json:"password"`
	} `json:"credentials"`
}

// withDefaults fills in the spec's defaults the check and a worker
// connect with.
func (c postgresConfig) withDefaults() postgresConfig {
	if c.Port == 0 {
		c.Port = 5432
	}
	if c.SSLMode == "" {
		c.SSLMode = "prefer"
	}
	return c
}

// issuePostgres hands out the stored user and password, with where to
// connect: a database password has no shorter-lived form here.
func issuePostgres(_ context.Context, c postgresConfig, _ Env) (Issued, error) {
	c = c.withDefaults()
	return static(map[string]any{"username": c.Credentials.Username, "password": c.Credentials.Password,
		"host": c.Host, "port": c.Port, "database": c.Database, "ssl_mode": c.SSLMode})
}

// checkPostgres connects through the SSRF guard, authenticates and runs
// SELECT 1; with a table configured, it also checks the table is visible.
func checkPostgres(ctx context.Context, c postgresConfig, env Env) Result {
	c = c.withDefaults()
	dsn := strings.Join([]string{
		"host=" + quoteDSN(c.Host), "port=" + strconv.Itoa(c.Port), "dbname=" + quoteDSN(c.Database),
		"user=" + quoteDSN(c.Credentials.Username), "password=" + quoteDSN(c.Credentials.Password),
		"sslmode=" + quoteDSN(c.SSLMode), "application_name=connvault-check",
	}, " ")
	pc, err := pgx.ParseConfig(dsn)
	if err != nil {
		return failStep("connect", "the connection settings are not valid")
	}
	pc.DialFunc = env.DialContext
	pc.LookupFunc = env.LookupHost
	var steps []Step
	conn, err := pgx.ConnectConfig(ctx, pc)
	if err != nil {
		step, msg := describePostgres(err)
		if step == "authenticate" {
			steps = append(steps, Step{Name: "connect", Status: StepPassed, Message: "the server answered"})
		}
		return failStep(step, msg, steps...)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	steps = append(steps, Step{Name: "connect", Status: StepPassed, Message: "the server answered"},
		Step{Name: "authenticate", Status: StepPassed, Message: "logged in as the configured user"})
	var one int
	if err := conn.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
		_, msg := describePostgres(err)
		return failStep("SELECT 1", msg, steps...)
	}
	steps = append(steps, Step{Name: "SELECT 1", Status: StepPassed, Message: "the query ran"})
	if c.Table != "" {
		schema := c.Schema
		if schema == "" {
			schema = "public"
		}
		var found bool
		err := conn.QueryRow(ctx, "SELECT to_regclass(quote_ident($1) || '.' || quote_ident($2)) IS NOT NULL", schema, c.Table).Scan(&found)
		if err != nil || !found {
			msg := "the table was not found, or the user may not see it"
			return failStep("find table", msg, steps...)
		}
		steps = append(steps, Step{Name: "find table", Status: StepPassed, Message: "the table is visible"})
	}
	return Result{Success: true, Message: "connected and ran SELECT 1", Steps: steps}
}

// quoteDSN quotes a keyword/value connection-string value.
func quoteDSN(v string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'"
}

// describePostgres names the failed step and cause, without the server's
// own text, which can quote the user name or database.
func describePostgres(err error) (step, msg string) {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case pgerrcode.InvalidPassword, pgerrcode.InvalidAuthorizationSpecification:
			return "authenticate", "authentication failed for the user"
		case pgerrcode.InvalidCatalogName:
			return "authenticate", "the database does not exist"
		case pgerrcode.InsufficientPrivilege:
			return "authenticate", "the user may not connect to this database"
		case pgerrcode.TooManyConnections:
			return "connect", "the server has too many connections"
		}
		return "connect", fmt.Sprintf("the server refused the connection (SQLSTATE %s)", pgErr.Code)
	}
	if errors.Is(err, ErrBlockedAddress) {
		return "connect", blockedMessage(err)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "connect", "the server did not answer before the check's deadline"
	}
	text := err.Error()
	switch {
	case strings.Contains(text, "no such host"):
		return "connect", "the host name could not be resolved"
	case strings.Contains(text, "connection refused"):
		return "connect", "nothing listens at that host and port"
	case strings.Contains(text, "timeout"):
		return "connect", "the server did not answer before the check's deadline"
	case strings.Contains(text, "server refused TLS") || strings.Contains(text, "SSL"):
		return "connect", "the TLS setup failed (check ssl_mode)"
	}
	return "connect", "could not connect to the server"
}
