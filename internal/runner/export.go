package runner

import (
	"fmt"
	"path/filepath"

	"gopkg.in/yaml.v3"

	"github.com/bazaar-shop/bazaar/internal/compose"
)

// multiAppRun is Dapr's multi-app run file (`dapr run -f dapr.yaml`).
type multiAppRun struct {
	Version int       `yaml:"version"`
	Common  runCommon `yaml:"common"`
	Apps    []runApp  `yaml:"apps"`
}

type runCommon struct {
	ResourcesPaths     []string `yaml:"resourcesPaths,omitempty"`
	ConfigFilePath     string   `yaml:"configFilePath,omitempty"`
	LogLevel           string   `yaml:"logLevel,omitempty"`
	AppHealthCheckPath string   `yaml:"appHealthCheckPath,omitempty"`
}

type runApp struct {
	AppID          string            `yaml:"appID"`
	AppDirPath     string            `yaml:"appDirPath"`
	AppPort        int               `yaml:"appPort,omitempty"`
	AppProtocol    string            `yaml:"appProtocol,omitempty"`
	Command        []string          `yaml:"command"`
	Env            map[string]string `yaml:"env,omitempty"`
	DaprHTTPPort   int               `yaml:"daprHTTPPort,omitempty"`
	DaprGRPCPort   int               `yaml:"daprGRPCPort,omitempty"`
	EnableHealthCk bool              `yaml:"enableAppHealthCheck,omitempty"`
}

// Export returns an equivalent Dapr multi-app run file for users who have the
// dapr CLI. resources are the rendered component folders for the profile
// (the dapr CLI does not expand Bazaar's ${VARS}); paths are made relative to
// the compose file's folder, where dapr.yaml is meant to live.
func Export(f *compose.File, resources []string, config string) ([]byte, error) {
	rel := func(p string) string {
		if r, err := filepath.Rel(f.Dir, p); err == nil {
			return r
		}
		return p
	}
	out := multiAppRun{Version: 1, Common: runCommon{ConfigFilePath: rel(config), LogLevel: f.Dapr().LogLevel, AppHealthCheckPath: "/healthz"}}
	for _, r := range resources {
		out.Common.ResourcesPaths = append(out.Common.ResourcesPaths, rel(r))
	}
	for _, s := range f.Services {
		if !s.DaprEnabled() {
			continue
		}
		if s.Replicas > 1 {
			return nil, fmt.Errorf("%s:%d: service %s has %d replicas; a multi-app run file has no replicas", f.Path, s.Line, s.Name, s.Replicas)
		}
		app := runApp{AppID: s.AppID(), AppPort: s.Port(), AppProtocol: s.AppProtocol(),
			DaprHTTPPort: s.Dapr.HTTPPort, DaprGRPCPort: s.Dapr.GRPCPort, EnableHealthCk: s.AppProtocol() == "http" && compose.On(s.Dapr.AppHealthCheck, false)}
		if s.Project != "" {
			app.AppDirPath = s.Project
			app.Command = []string{"go", "run", "."}
		} else {
			app.AppDirPath = "."
			app.Command = append([]string{s.Executable}, s.Args...)
		}
		if len(s.Env) > 0 {
			app.Env = map[string]string{}
			for _, e := range s.Env {
				app.Env[e.Name] = e.Value
			}
		}
		out.Apps = append(out.Apps, app)
	}
	return yaml.Marshal(out)
}
