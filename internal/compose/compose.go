// Package compose reads compose.yaml, Bazaar's tye-style description of the
// services that make up the system and how Dapr runs beside them.
//
// Parsing is strict: an unknown key, a missing project, a duplicate port or app
// id is an error that names the file, the line and the field.
package compose

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// File is a parsed compose.yaml.
type File struct {
	Name       string      `yaml:"name"`
	Extensions []Extension `yaml:"extensions"`
	Services   []Service   `yaml:"services"`

	// Path is the file the configuration was read from; Dir is its folder,
	// against which every relative path in it is resolved.
	Path string `yaml:"-"`
	Dir  string `yaml:"-"`

	lines map[string]int
}

// Extension configures a tool that runs beside the services. The only one
// Bazaar knows is "dapr".
type Extension struct {
	Name           string             `yaml:"name"`
	LogLevel       string             `yaml:"log-level"`
	Config         string             `yaml:"config"`
	ComponentsPath string             `yaml:"components-path"`
	DefaultProfile string             `yaml:"default-profile"`
	Profiles       map[string]Profile `yaml:"profiles"`
	Placement      *bool              `yaml:"placement"`
	Sentry         *bool              `yaml:"sentry"`
	// PlaintextBetweenSidecars must be true for sentry: false while the
	// sidecar configuration asks for mTLS: without sentry the sidecars talk
	// plain text, and access control can no longer tell callers apart.
	PlaintextBetweenSidecars *bool   `yaml:"plaintext-between-sidecars"`
	Tracing                  Tracing `yaml:"tracing"`
	Metrics                  Metrics `yaml:"metrics"`
	Mail                     Mail    `yaml:"mail"`
}

// Mail is where the notification service's e-mails go: a Mailpit the runner
// starts on loopback (unless enabled is false), or else the SMTP server at
// host and port.
type Mail struct {
	Enabled  *bool  `yaml:"enabled"`
	SMTPPort int    `yaml:"smtp-port"` // Mailpit's; 0 picks a free one
	WebPort  int    `yaml:"web-port"`  // Mailpit's API; 0 picks a free one
	Host     string `yaml:"host"`      // with enabled: false
	Port     int    `yaml:"port"`      // with enabled: false
}

// Metrics is Prometheus, which the runner starts when it is installed
// (unless enabled is false) to scrape every app and sidecar; its API and
// page on port (0 picks a free one).
type Metrics struct {
	Enabled *bool `yaml:"enabled"`
	Port    int   `yaml:"port"`
}

// Tracing is where the sidecars' and the apps' traces go: a Jaeger the
// runner starts on loopback (on unless enabled is false). A port of 0 is
// picked free.
type Tracing struct {
	Enabled      *bool `yaml:"enabled"`
	OTLPGRPCPort int   `yaml:"otlp-grpc-port"`
	OTLPHTTPPort int   `yaml:"otlp-http-port"`
	QueryPort    int   `yaml:"query-port"`
}

// Profile is a set of Dapr components, for example embedded (SQLite and an
// in-process NATS) or servers (Redis and PostgreSQL).
type Profile struct {
	ComponentsPath string   `yaml:"components-path"`
	Requires       []string `yaml:"requires"`
	Description    string   `yaml:"description"`
}

// Service is one application process and, unless disabled, its Dapr sidecar.
type Service struct {
	Name       string      `yaml:"name"`
	Project    string      `yaml:"project"`
	Executable string      `yaml:"executable"`
	Args       []string    `yaml:"args"`
	Bindings   []Binding   `yaml:"bindings"`
	Env        []EnvVar    `yaml:"env"`
	Replicas   int         `yaml:"replicas"`
	Dapr       ServiceDapr `yaml:"dapr"`
	Health     string      `yaml:"health-path"`
	Line       int         `yaml:"-"`
}

// Binding is a port the service listens on. Port 0 (or none) means "pick a
// free one at start".
type Binding struct {
	Port     int    `yaml:"port"`
	Protocol string `yaml:"protocol"`
}

// EnvVar is one environment variable given to the service.
type EnvVar struct {
	Name  string `yaml:"name"`
	Value string `yaml:"value"`
}

// ServiceDapr holds per-service overrides of the Dapr extension.
type ServiceDapr struct {
	Enabled     *bool  `yaml:"enabled"`
	AppID       string `yaml:"app-id"`
	AppProtocol string `yaml:"app-protocol"`
	HTTPPort    int    `yaml:"http-port"`
	GRPCPort    int    `yaml:"grpc-port"`
	MetricsPort int    `yaml:"metrics-port"`
	// AppHealthCheck: the sidecar probes the app's health path and, while
	// it fails, refuses calls and stops delivering events. Off unless set:
	// in Dapr 1.16.0 a health flip can leave a sidecar refusing calls after
	// its app is back, and stops workflow reminders (docs/dapr.md).
	AppHealthCheck *bool `yaml:"app-health-check"`
}

// Error is a problem in the file, located by line and field path.
type Error struct {
	File  string
	Line  int
	Field string
	Msg   string
}

func (e *Error) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s:%d: %s: %s", e.File, e.Line, e.Field, e.Msg)
}

// Load reads and validates the compose file at path.
func Load(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("compose: %w", err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("compose: %w", err)
	}
	return Parse(data, path, filepath.Dir(abs))
}

// Parse validates data as a compose file named name whose relative paths are
// resolved against dir.
func Parse(data []byte, name, dir string) (*File, error) {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		return nil, yamlError(name, err)
	}
	if len(doc.Content) == 0 {
		return nil, &Error{File: name, Line: 1, Msg: "the file is empty"}
	}
	f := &File{Path: name, Dir: dir, lines: map[string]int{}}
	root := doc.Content[0]
	if err := checkKeys(root, reflect.TypeOf(*f), "", f.lines, name); err != nil {
		return nil, err
	}
	if err := root.Decode(f); err != nil {
		return nil, yamlError(name, err)
	}
	f.Path, f.Dir = name, dir
	for i := range f.Services {
		f.Services[i].Line = f.line(fmt.Sprintf("services[%d]", i))
	}
	if err := f.validate(); err != nil {
		return nil, err
	}
	return f, nil
}

// Dapr returns the dapr extension with defaults applied.
func (f *File) Dapr() Extension {
	for _, e := range f.Extensions {
		if e.Name == "dapr" {
			return e
		}
	}
	return Extension{Name: "dapr"}
}

// Profile returns the named profile, or the default one for an empty name.
func (f *File) Profile(name string) (string, Profile, error) {
	d := f.Dapr()
	if name == "" {
		name = d.DefaultProfile
	}
	p, ok := d.Profiles[name]
	if !ok {
		known := make([]string, 0, len(d.Profiles))
		for k := range d.Profiles {
			known = append(known, k)
		}
		slices.Sort(known)
		return "", Profile{}, &Error{File: f.Path, Line: f.line(f.daprPath() + ".profiles"), Field: "profiles",
			Msg: fmt.Sprintf("no profile %q (profiles: %s)", name, strings.Join(known, ", "))}
	}
	return name, p, nil
}

// Service returns the service with the given name.
func (f *File) Service(name string) (Service, bool) {
	for _, s := range f.Services {
		if s.Name == name {
			return s, true
		}
	}
	return Service{}, false
}

// Abs resolves a path from the file against the file's folder.
func (f *File) Abs(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(f.Dir, p)
}

// AppID is the service's Dapr app id.
func (s Service) AppID() string {
	if s.Dapr.AppID != "" {
		return s.Dapr.AppID
	}
	return s.Name
}

// DaprEnabled reports whether the service runs with a sidecar.
func (s Service) DaprEnabled() bool { return s.Dapr.Enabled == nil || *s.Dapr.Enabled }

// AppProtocol is "http" or "grpc".
func (s Service) AppProtocol() string {
	if s.Dapr.AppProtocol == "" {
		return "http"
	}
	return s.Dapr.AppProtocol
}

// Port is the service's fixed port, or 0 when the runner picks one.
func (s Service) Port() int {
	if len(s.Bindings) == 0 {
		return 0
	}
	return s.Bindings[0].Port
}

// HealthPath is the path the runner polls to learn that the app is ready.
func (s Service) HealthPath() string {
	if s.Health == "" {
		return "/healthz"
	}
	return s.Health
}

// On reports whether an optional flag is set, with a default.
func On(b *bool, def bool) bool {
	if b == nil {
		return def
	}
	return *b
}

var nameRE = regexp.MustCompile(`^[a-z][a-z0-9-]{0,62}$`)

func (f *File) validate() error {
	var errs []error
	add := func(path, msg string) {
		errs = append(errs, &Error{File: f.Path, Line: f.line(path), Field: path, Msg: msg})
	}
	if f.Name == "" {
		add("name", "is required")
	}
	daprSeen := false
	for i, e := range f.Extensions {
		p := fmt.Sprintf("extensions[%d]", i)
		switch e.Name {
		case "dapr":
			if daprSeen {
				add(p+".name", "the dapr extension is given twice")
			}
			daprSeen = true
			f.validateDapr(e, p, add)
		case "":
			add(p+".name", "is required")
		default:
			add(p+".name", fmt.Sprintf("unknown extension %q (known: dapr)", e.Name))
		}
	}
	if len(f.Services) == 0 {
		add("services", "at least one service is required")
	}
	names, appIDs, ports := map[string]string{}, map[string]string{}, map[int]string{}
	for i, s := range f.Services {
		p := fmt.Sprintf("services[%d]", i)
		switch {
		case s.Name == "":
			add(p+".name", "is required")
		case !nameRE.MatchString(s.Name):
			add(p+".name", fmt.Sprintf("%q is not a valid name (lowercase letters, digits and dashes, starting with a letter)", s.Name))
		case names[s.Name] != "":
			add(p+".name", fmt.Sprintf("duplicate service name %q (also %s)", s.Name, names[s.Name]))
		default:
			names[s.Name] = p
		}
		switch {
		case s.Project == "" && s.Executable == "":
			add(p, "needs a project or an executable")
		case s.Project != "" && s.Executable != "":
			add(p, "has both a project and an executable; give one")
		case s.Project != "":
			if err := checkProject(f.Abs(s.Project)); err != nil {
				add(p+".project", err.Error())
			}
		}
		if s.Replicas < 0 {
			add(p+".replicas", "must be at least 1")
		}
		if s.Replicas == 0 {
			f.Services[i].Replicas = 1
		}
		for j, b := range s.Bindings {
			bp := fmt.Sprintf("%s.bindings[%d]", p, j)
			if b.Port < 0 || b.Port > 65535 {
				add(bp+".port", fmt.Sprintf("%d is not a port number", b.Port))
				continue
			}
			if b.Protocol != "" && b.Protocol != "http" && b.Protocol != "grpc" {
				add(bp+".protocol", fmt.Sprintf("%q is not http or grpc", b.Protocol))
			}
			if b.Port != 0 && s.Replicas > 1 {
				add(bp+".port", "a fixed port cannot be shared by several replicas; leave it out to pick free ports")
			}
			if b.Port != 0 {
				if other, dup := ports[b.Port]; dup {
					add(bp+".port", fmt.Sprintf("duplicate port %d (also %s)", b.Port, other))
				}
				ports[b.Port] = bp
			}
		}
		for j, e := range s.Env {
			if e.Name == "" {
				add(fmt.Sprintf("%s.env[%d].name", p, j), "is required")
			}
		}
		if s.DaprEnabled() {
			id := s.AppID()
			if !nameRE.MatchString(id) {
				add(p+".dapr.app-id", fmt.Sprintf("%q is not a valid app id", id))
			} else if other, dup := appIDs[id]; dup {
				add(p+".dapr.app-id", fmt.Sprintf("duplicate app id %q (also %s)", id, other))
			}
			appIDs[id] = p
			if pr := s.Dapr.AppProtocol; pr != "" && pr != "http" && pr != "grpc" {
				add(p+".dapr.app-protocol", fmt.Sprintf("%q is not http or grpc", pr))
			}
			for field, port := range map[string]int{"http-port": s.Dapr.HTTPPort, "grpc-port": s.Dapr.GRPCPort, "metrics-port": s.Dapr.MetricsPort} {
				if port == 0 {
					continue
				}
				fp := p + ".dapr." + field
				if other, dup := ports[port]; dup {
					add(fp, fmt.Sprintf("duplicate port %d (also %s)", port, other))
				}
				ports[port] = fp
			}
		}
	}
	return errors.Join(errs...)
}

func (f *File) validateDapr(e Extension, p string, add func(path, msg string)) {
	switch e.LogLevel {
	case "", "debug", "info", "warn", "error":
	default:
		add(p+".log-level", fmt.Sprintf("%q is not debug, info, warn or error", e.LogLevel))
	}
	if e.Config != "" {
		if _, err := os.Stat(f.Abs(e.Config)); err != nil {
			add(p+".config", fmt.Sprintf("no such file %s", e.Config))
		}
	}
	f.validateMTLS(e, p, add)
	if e.ComponentsPath != "" {
		if !isDir(f.Abs(e.ComponentsPath)) {
			add(p+".components-path", fmt.Sprintf("no such folder %s", e.ComponentsPath))
		}
	}
	if len(e.Profiles) == 0 {
		add(p+".profiles", "at least one profile is required")
	}
	if !On(e.Mail.Enabled, true) && (e.Mail.Host == "" || e.Mail.Port == 0) {
		add(p+".mail", "without Mailpit (enabled: false), host and port of an SMTP server are required")
	}
	for field, port := range map[string]int{"tracing.otlp-grpc-port": e.Tracing.OTLPGRPCPort, "tracing.otlp-http-port": e.Tracing.OTLPHTTPPort,
		"tracing.query-port": e.Tracing.QueryPort, "metrics.port": e.Metrics.Port,
		"mail.smtp-port": e.Mail.SMTPPort, "mail.web-port": e.Mail.WebPort, "mail.port": e.Mail.Port} {
		if port < 0 || port > 65535 {
			add(p+"."+field, fmt.Sprintf("%d is not a port (0 picks a free one)", port))
		}
	}
	for name, prof := range e.Profiles {
		pp := p + ".profiles." + name
		if prof.ComponentsPath == "" {
			add(pp+".components-path", "is required")
		} else if !isDir(f.Abs(prof.ComponentsPath)) {
			add(pp+".components-path", fmt.Sprintf("no such folder %s", prof.ComponentsPath))
		}
		for j, r := range prof.Requires {
			if r != "nats" && r != "redis" && r != "postgres" {
				add(fmt.Sprintf("%s.requires[%d]", pp, j), fmt.Sprintf("%q is not a server the runner knows (nats, redis, postgres)", r))
			}
		}
	}
	if e.DefaultProfile == "" {
		add(p+".default-profile", "is required")
	} else if _, ok := e.Profiles[e.DefaultProfile]; !ok && len(e.Profiles) > 0 {
		add(p+".default-profile", fmt.Sprintf("no profile %q", e.DefaultProfile))
	}
}

// validateMTLS refuses sentry: false while the sidecar configuration says
// mtls.enabled: true: the runner then starts the sidecars without
// --enable-mtls, and a configuration that reads "mTLS on" would be wrong
// about what runs. Only an explicit plaintext-between-sidecars: true says
// that plain text is wanted.
func (f *File) validateMTLS(e Extension, p string, add func(path, msg string)) {
	sentry, plaintext := On(e.Sentry, true), On(e.PlaintextBetweenSidecars, false)
	if sentry && plaintext {
		add(p+".plaintext-between-sidecars", "plain text between sidecars needs sentry: false (sentry is what gives them mTLS)")
		return
	}
	if sentry || plaintext || e.Config == "" {
		return
	}
	data, err := os.ReadFile(f.Abs(e.Config))
	if err != nil {
		return // reported as "no such file" above
	}
	if line, on := mtlsEnabled(data); on {
		add(p+".sentry", fmt.Sprintf("sentry: false runs the sidecars without mTLS, but %s:%d says mtls.enabled: true; "+
			"set plaintext-between-sidecars: true if plain text between sidecars is really wanted", e.Config, line))
	}
}

// mtlsEnabled finds spec.mtls.enabled in a Dapr Configuration and reports
// its line and whether it is true.
func mtlsEnabled(data []byte) (int, bool) {
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) != nil || len(doc.Content) == 0 {
		return 0, false
	}
	node := doc.Content[0]
	for _, key := range []string{"spec", "mtls", "enabled"} {
		node = child(node, key)
		if node == nil {
			return 0, false
		}
	}
	var on bool
	if node.Decode(&on) != nil {
		return 0, false
	}
	return node.Line, on
}

// child is the value of key in a mapping node, or nil.
func child(n *yaml.Node, key string) *yaml.Node {
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

func (f *File) daprPath() string {
	for i, e := range f.Extensions {
		if e.Name == "dapr" {
			return fmt.Sprintf("extensions[%d]", i)
		}
	}
	return "extensions"
}

// line finds the line of the field at path, or of its nearest parent.
func (f *File) line(path string) int {
	for path != "" {
		if l, ok := f.lines[path]; ok {
			return l
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return 1
}

func checkProject(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("no such folder %s", dir)
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".go") {
			return nil
		}
	}
	return fmt.Errorf("%s holds no Go files", dir)
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

// checkKeys walks node alongside the Go type t, rejecting mapping keys that t
// has no field for and recording the line of every field it passes.
func checkKeys(node *yaml.Node, t reflect.Type, path string, lines map[string]int, file string) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if path != "" {
		lines[path] = node.Line
	}
	switch t.Kind() {
	case reflect.Struct:
		if node.Kind != yaml.MappingNode {
			return &Error{File: file, Line: node.Line, Field: path, Msg: "expected a mapping of keys to values"}
		}
		fields := map[string]reflect.Type{}
		var known []string
		for i := 0; i < t.NumField(); i++ {
			tag := strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0]
			if tag == "" || tag == "-" {
				continue
			}
			fields[tag] = t.Field(i).Type
			known = append(known, tag)
		}
		seen := map[string]bool{}
		for i := 0; i+1 < len(node.Content); i += 2 {
			k, v := node.Content[i], node.Content[i+1]
			child := join(path, k.Value)
			ft, ok := fields[k.Value]
			if !ok {
				return &Error{File: file, Line: k.Line, Field: child, Msg: fmt.Sprintf("unknown key %q (known: %s)", k.Value, strings.Join(known, ", "))}
			}
			if seen[k.Value] {
				return &Error{File: file, Line: k.Line, Field: child, Msg: "key given twice"}
			}
			seen[k.Value] = true
			lines[child] = k.Line
			if err := checkKeys(v, ft, child, lines, file); err != nil {
				return err
			}
			lines[child] = k.Line
		}
	case reflect.Slice:
		if node.Kind != yaml.SequenceNode {
			return &Error{File: file, Line: node.Line, Field: path, Msg: "expected a list"}
		}
		for i, item := range node.Content {
			if err := checkKeys(item, t.Elem(), fmt.Sprintf("%s[%d]", path, i), lines, file); err != nil {
				return err
			}
		}
	case reflect.Map:
		if node.Kind != yaml.MappingNode {
			return &Error{File: file, Line: node.Line, Field: path, Msg: "expected a mapping"}
		}
		for i := 0; i+1 < len(node.Content); i += 2 {
			child := join(path, node.Content[i].Value)
			lines[child] = node.Content[i].Line
			if err := checkKeys(node.Content[i+1], t.Elem(), child, lines, file); err != nil {
				return err
			}
			lines[child] = node.Content[i].Line
		}
	default:
		if node.Kind != yaml.ScalarNode {
			return &Error{File: file, Line: node.Line, Field: path, Msg: "expected a single value"}
		}
	}
	return nil
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// yamlError turns a yaml.v3 error ("yaml: line 3: ...") into an Error.
func yamlError(file string, err error) error {
	var te *yaml.TypeError
	msg := err.Error()
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msg = te.Errors[0]
	}
	msg = strings.TrimPrefix(msg, "yaml: ")
	line := 1
	if m := regexp.MustCompile(`^line (\d+): (.*)$`).FindStringSubmatch(msg); m != nil {
		fmt.Sscanf(m[1], "%d", &line)
		msg = m[2]
	}
	return &Error{File: file, Line: line, Msg: msg}
}
