package k8s

import (
	"fmt"
	"strconv"

	"github.com/bazaar-shop/bazaar/internal/compose"
)

// appPort is where every app listens in its pod when compose.yaml fixes no
// port: pods do not share ports, so one number serves all.
const appPort = 8080

// userID is the non-root user of the images (ko's and distroless' nonroot).
const userID = 65532

// sizing is one app's share of the cluster, from docs/scaling.md: CPU
// requests for the app and its sidecar (the HPA's utilization is measured
// against their sum) and the HPA's bounds.
type sizing struct {
	AppCPU, SidecarCPU       string
	MinReplicas, MaxReplicas int
}

// sizings covers every service in compose.yaml; a new service fails the
// generation until it has a row (see docs/scaling.md for the figures).
var sizings = map[string]sizing{
	"gateway":      {"200m", "300m", 2, 30},
	"shell":        {"200m", "300m", 2, 30},
	"basket":       {"200m", "300m", 2, 30},
	"identity":     {"200m", "300m", 2, 20},
	"catalog":      {"200m", "300m", 2, 20},
	"ordering":     {"200m", "500m", 2, 10}, // the workflow engine runs in its sidecar
	"payment":      {"100m", "200m", 2, 6},
	"notification": {"100m", "200m", 2, 4},
}

// appSettings are the variables an app reads beyond the runner's contract
// (internal/daprapp: Config), taken from the bazaar-settings ConfigMap.
// Every app also gets OTEL_EXPORTER_OTLP_ENDPOINT.
var appSettings = map[string][]string{
	"gateway":      {"GATEWAY_TRUSTED_PROXIES"},
	"notification": {"SHOP_URL"},
}

const settingsConfigMap = "bazaar-settings"

// tokenSecret holds an app's Dapr API token (key "token"), used both ways:
// the sidecar presents it to the app (APP_API_TOKEN) and the app to the
// sidecar (DAPR_API_TOKEN). Dapr's injector reads the key "token".
func tokenSecret(app string) string { return app + "-dapr-token" }

func labels(app string) map[string]string {
	return map[string]string{"app.kubernetes.io/name": app, "app.kubernetes.io/part-of": partOf}
}

const partOf = "bazaar"

// appObjects are one service's ServiceAccount, Deployment, Service (the
// gateway only), PodDisruptionBudget and HorizontalPodAutoscaler.
func appObjects(f *compose.File, s compose.Service, opts Options, configName string, readsSecrets bool) ([]object, error) {
	size, ok := sizings[s.Name]
	if !ok {
		return nil, fmt.Errorf("%s:%d: service %s has no sizing for Kubernetes (internal/k8s: sizings, docs/scaling.md)", f.Path, s.Line, s.Name)
	}
	if !s.DaprEnabled() {
		return nil, fmt.Errorf("%s:%d: service %s runs without a sidecar, which the generator does not know how to deploy", f.Path, s.Line, s.Name)
	}
	port := s.Port()
	if port == 0 {
		port = appPort
	}
	ns := opts.Namespace
	sel := labels(s.Name)

	annotations := map[string]string{
		"dapr.io/enabled":          "true",
		"dapr.io/app-id":           s.AppID(),
		"dapr.io/app-port":         strconv.Itoa(port),
		"dapr.io/app-protocol":     s.AppProtocol(),
		"dapr.io/config":           configName,
		"dapr.io/log-level":        orDefault(f.Dapr().LogLevel, "info"),
		"dapr.io/log-as-json":      "true",
		"dapr.io/app-token-secret": tokenSecret(s.Name),
		"dapr.io/api-token-secret": tokenSecret(s.Name),
		// Component secrets come from the operator; only the named secret
		// stores (identity's, payment's) read the Kubernetes API.
		"dapr.io/disable-builtin-k8s-secret-store": "true",
		"dapr.io/sidecar-cpu-request":              size.SidecarCPU,
		"dapr.io/sidecar-cpu-limit":                "2",
		"dapr.io/sidecar-memory-request":           "128Mi",
		"dapr.io/sidecar-memory-limit":             "512Mi",
		"dapr.io/sidecar-seccomp-profile-type":     "RuntimeDefault",
		// compose.yaml explains why the sidecar does not probe its app.
		"dapr.io/enable-app-health-check": "false",
		// Prometheus' usual scrape annotations, for the app's own metrics;
		// the sidecar's are announced by Dapr (dapr.io/enable-metrics).
		"prometheus.io/scrape": "true",
		"prometheus.io/port":   strconv.Itoa(appMetricsPort),
		"prometheus.io/path":   "/metrics",
	}
	if s.AppProtocol() == "http" && compose.On(s.Dapr.AppHealthCheck, false) {
		annotations["dapr.io/enable-app-health-check"] = "true"
		annotations["dapr.io/app-health-check-path"] = s.HealthPath()
		annotations["dapr.io/app-health-probe-interval"] = "3"
	}

	str := func(v string) *string { return &v }
	env := []envVar{
		{Name: "APP_ID", Value: str(s.AppID())},
		{Name: "APP_PORT", Value: str(strconv.Itoa(port))},
		// The pod's address, not loopback: the kubelet probes it there, and
		// the Ingress controller reaches the gateway there. The other apps
		// answer nothing but their health path without the app token.
		{Name: "BAZAAR_LISTEN_ADDR", Value: str("0.0.0.0")},
		{Name: "BAZAAR_PROFILE", Value: str(ClusterProfile)},
		{Name: "APP_API_TOKEN", ValueFrom: &envVarSource{SecretKeyRef: &keyRef{tokenSecret(s.Name), "token"}}},
		{Name: "DAPR_API_TOKEN", ValueFrom: &envVarSource{SecretKeyRef: &keyRef{tokenSecret(s.Name), "token"}}},
		{Name: "OTEL_EXPORTER_OTLP_ENDPOINT", ValueFrom: &envVarSource{ConfigMapKeyRef: &keyRef{settingsConfigMap, "OTEL_EXPORTER_OTLP_ENDPOINT"}}},
		// The app's own Prometheus metrics (its sidecar's are on 9090).
		{Name: "METRICS_PORT", Value: str(strconv.Itoa(appMetricsPort))},
	}
	for _, name := range appSettings[s.Name] {
		env = append(env, envVar{Name: name, ValueFrom: &envVarSource{ConfigMapKeyRef: &keyRef{settingsConfigMap, name}}})
	}
	for _, e := range s.Env {
		env = append(env, envVar{Name: e.Name, Value: str(e.Value)})
	}

	portName := "http"
	if s.AppProtocol() == "grpc" {
		portName = "grpc"
	}
	// payment answers gRPC: it serves the standard gRPC health service.
	readiness := probe{PeriodSeconds: 5, TimeoutSeconds: 2, FailureThreshold: 3}
	if s.AppProtocol() == "grpc" {
		readiness.GRPC = &grpcAction{Port: port}
	} else {
		readiness.HTTPGet = &httpGetAction{Path: s.HealthPath(), Port: portName}
	}
	liveness := readiness
	liveness.PeriodSeconds, liveness.FailureThreshold = 10, 6

	app := container{
		Name:  s.Name,
		Image: opts.ImagePrefix + "/" + s.Name,
		Ports: []containerPort{{Name: portName, ContainerPort: port, Protocol: "TCP"},
			{Name: "metrics", ContainerPort: appMetricsPort, Protocol: "TCP"}},
		Env:            env,
		ReadinessProbe: readiness,
		LivenessProbe:  liveness,
		Resources: resources{
			Requests: map[string]string{"cpu": size.AppCPU, "memory": "64Mi"},
			Limits:   map[string]string{"cpu": "1", "memory": "256Mi"},
		},
		SecurityContext: containerSecurityContext{RunAsNonRoot: true, ReadOnlyRootFilesystem: true,
			Capabilities: capabilities{Drop: []string{"ALL"}}},
	}

	podMeta := meta{Labels: sel, Annotations: annotations}
	objs := []object{
		{APIVersion: "v1", Kind: "ServiceAccount", Metadata: meta{Name: s.Name, Namespace: ns, Labels: sel},
			AutomountServiceAccountToken: &readsSecrets},
		{APIVersion: "apps/v1", Kind: "Deployment", Metadata: meta{Name: s.Name, Namespace: ns, Labels: sel},
			Spec: deploymentSpec{
				Replicas:             size.MinReplicas,
				RevisionHistoryLimit: 5,
				Selector:             labelSelector{MatchLabels: sel},
				Strategy:             strategy{Type: "RollingUpdate", RollingUpdate: rollingUpdate{MaxSurge: 1, MaxUnavailable: 0}},
				Template: podTemplate{Metadata: podMeta, Spec: podSpec{
					ServiceAccountName: s.Name,
					// Dapr's injector mounts the sidecar's own token for sentry;
					// only apps whose sidecar reads Secrets need the API's.
					AutomountServiceAccountToken:  readsSecrets,
					EnableServiceLinks:            false,
					TerminationGracePeriodSeconds: 30,
					SecurityContext: podSecurityContext{RunAsNonRoot: true, RunAsUser: userID, RunAsGroup: userID,
						SeccompProfile: seccompProfile{Type: "RuntimeDefault"}},
					TopologySpreadConstraints: []topologySpreadConstraint{{MaxSkew: 1, TopologyKey: "kubernetes.io/hostname",
						WhenUnsatisfiable: "ScheduleAnyway", LabelSelector: labelSelector{MatchLabels: sel}}},
					Containers: []container{app},
				}},
			}},
	}
	if s.Port() != 0 {
		// Callers from outside the mesh (the Ingress controller) need a
		// Service; apps call each other sidecar to sidecar.
		objs = append(objs, object{APIVersion: "v1", Kind: "Service", Metadata: meta{Name: s.Name, Namespace: ns, Labels: sel},
			Spec: serviceSpec{Type: "ClusterIP", Selector: sel,
				Ports: []servicePort{{Name: portName, Port: 80, TargetPort: portName, Protocol: "TCP"}}}})
	}
	objs = append(objs,
		object{APIVersion: "policy/v1", Kind: "PodDisruptionBudget", Metadata: meta{Name: s.Name, Namespace: ns, Labels: sel},
			Spec: podDisruptionBudgetSpec{MaxUnavailable: 1, Selector: labelSelector{MatchLabels: sel}}},
		object{APIVersion: "autoscaling/v2", Kind: "HorizontalPodAutoscaler", Metadata: meta{Name: s.Name, Namespace: ns, Labels: sel},
			Spec: hpaSpec{
				ScaleTargetRef: crossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: s.Name},
				MinReplicas:    size.MinReplicas,
				MaxReplicas:    size.MaxReplicas,
				Metrics: []hpaMetric{{Type: "Resource", Resource: hpaResourceMetric{Name: "cpu",
					Target: hpaTarget{Type: "Utilization", AverageUtilization: targetCPUUtilization}}}},
				Behavior: hpaBehavior{
					// Up fast (double, or 4 pods, a minute); down slowly, so a
					// dip does not shed the capacity the next peak needs.
					ScaleUp: hpaRules{StabilizationWindowSeconds: 0, Policies: []hpaPolicy{
						{Type: "Percent", Value: 100, PeriodSeconds: 60}, {Type: "Pods", Value: 4, PeriodSeconds: 60}}},
					ScaleDown: hpaRules{StabilizationWindowSeconds: 300, Policies: []hpaPolicy{
						{Type: "Percent", Value: 20, PeriodSeconds: 60}}},
				},
			}},
	)
	return objs, nil
}

// targetCPUUtilization leaves room for a replica to absorb its share of a
// peak while the HPA adds more (docs/scaling.md).
const targetCPUUtilization = 70

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// appMetricsPort is where each app serves its own Prometheus metrics
// (OpenTelemetry's usual exporter port; the sidecar's are on 9090).
const appMetricsPort = 9464
