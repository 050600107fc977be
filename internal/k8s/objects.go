package k8s

// The few Kubernetes object shapes the generator writes, as plain structs so
// that the root module needs no k8s.io dependency. Field order is the order
// in the generated YAML; empty fields are left out.

type meta struct {
	Name        string            `yaml:"name,omitempty"`
	Namespace   string            `yaml:"namespace,omitempty"`
	Labels      map[string]string `yaml:"labels,omitempty"`
	Annotations map[string]string `yaml:"annotations,omitempty"`
}

type object struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   meta   `yaml:"metadata"`
	// Exactly one of the following, depending on Kind.
	Spec                         any               `yaml:"spec,omitempty"`
	AutomountServiceAccountToken *bool             `yaml:"automountServiceAccountToken,omitempty"`
	Type                         string            `yaml:"type,omitempty"`
	StringData                   map[string]string `yaml:"stringData,omitempty"`
	Data                         map[string]string `yaml:"data,omitempty"`
	Rules                        []policyRule      `yaml:"rules,omitempty"`
	RoleRef                      *roleRef          `yaml:"roleRef,omitempty"`
	Subjects                     []subject         `yaml:"subjects,omitempty"`
}

type labelSelector struct {
	MatchLabels map[string]string `yaml:"matchLabels,omitempty"`
}

type deploymentSpec struct {
	Replicas             int           `yaml:"replicas"`
	RevisionHistoryLimit int           `yaml:"revisionHistoryLimit"`
	Selector             labelSelector `yaml:"selector"`
	Strategy             strategy      `yaml:"strategy"`
	Template             podTemplate   `yaml:"template"`
}

type strategy struct {
	Type          string        `yaml:"type"`
	RollingUpdate rollingUpdate `yaml:"rollingUpdate"`
}

type rollingUpdate struct {
	MaxSurge       int `yaml:"maxSurge"`
	MaxUnavailable int `yaml:"maxUnavailable"`
}

type podTemplate struct {
	Metadata meta    `yaml:"metadata"`
	Spec     podSpec `yaml:"spec"`
}

type podSpec struct {
	ServiceAccountName            string                     `yaml:"serviceAccountName"`
	AutomountServiceAccountToken  bool                       `yaml:"automountServiceAccountToken"`
	EnableServiceLinks            bool                       `yaml:"enableServiceLinks"`
	TerminationGracePeriodSeconds int                        `yaml:"terminationGracePeriodSeconds"`
	SecurityContext               podSecurityContext         `yaml:"securityContext"`
	TopologySpreadConstraints     []topologySpreadConstraint `yaml:"topologySpreadConstraints,omitempty"`
	Containers                    []container                `yaml:"containers"`
}

type podSecurityContext struct {
	RunAsNonRoot   bool           `yaml:"runAsNonRoot"`
	RunAsUser      int            `yaml:"runAsUser"`
	RunAsGroup     int            `yaml:"runAsGroup"`
	SeccompProfile seccompProfile `yaml:"seccompProfile"`
}

type seccompProfile struct {
	Type string `yaml:"type"`
}

type topologySpreadConstraint struct {
	MaxSkew           int           `yaml:"maxSkew"`
	TopologyKey       string        `yaml:"topologyKey"`
	WhenUnsatisfiable string        `yaml:"whenUnsatisfiable"`
	LabelSelector     labelSelector `yaml:"labelSelector"`
}

type container struct {
	Name            string                   `yaml:"name"`
	Image           string                   `yaml:"image"`
	Ports           []containerPort          `yaml:"ports"`
	Env             []envVar                 `yaml:"env"`
	ReadinessProbe  probe                    `yaml:"readinessProbe"`
	LivenessProbe   probe                    `yaml:"livenessProbe"`
	Resources       resources                `yaml:"resources"`
	SecurityContext containerSecurityContext `yaml:"securityContext"`
}

type containerPort struct {
	Name          string `yaml:"name"`
	ContainerPort int    `yaml:"containerPort"`
	Protocol      string `yaml:"protocol"`
}

type envVar struct {
	Name      string        `yaml:"name"`
	Value     *string       `yaml:"value,omitempty"`
	ValueFrom *envVarSource `yaml:"valueFrom,omitempty"`
}

type envVarSource struct {
	SecretKeyRef    *keyRef `yaml:"secretKeyRef,omitempty"`
	ConfigMapKeyRef *keyRef `yaml:"configMapKeyRef,omitempty"`
}

type keyRef struct {
	Name string `yaml:"name"`
	Key  string `yaml:"key"`
}

type probe struct {
	HTTPGet          *httpGetAction `yaml:"httpGet,omitempty"`
	GRPC             *grpcAction    `yaml:"grpc,omitempty"`
	PeriodSeconds    int            `yaml:"periodSeconds"`
	TimeoutSeconds   int            `yaml:"timeoutSeconds"`
	FailureThreshold int            `yaml:"failureThreshold"`
}

type httpGetAction struct {
	Path string `yaml:"path"`
	Port string `yaml:"port"`
}

// grpcAction probes the standard gRPC health service; Kubernetes takes
// only a port number here, not a name.
type grpcAction struct {
	Port int `yaml:"port"`
}

type resources struct {
	Requests map[string]string `yaml:"requests"`
	Limits   map[string]string `yaml:"limits"`
}

type containerSecurityContext struct {
	AllowPrivilegeEscalation bool         `yaml:"allowPrivilegeEscalation"`
	ReadOnlyRootFilesystem   bool         `yaml:"readOnlyRootFilesystem"`
	RunAsNonRoot             bool         `yaml:"runAsNonRoot"`
	Capabilities             capabilities `yaml:"capabilities"`
}

type capabilities struct {
	Drop []string `yaml:"drop"`
}

type serviceSpec struct {
	Type     string            `yaml:"type"`
	Selector map[string]string `yaml:"selector"`
	Ports    []servicePort     `yaml:"ports"`
}

type servicePort struct {
	Name       string `yaml:"name"`
	Port       int    `yaml:"port"`
	TargetPort string `yaml:"targetPort"`
	Protocol   string `yaml:"protocol"`
}

type podDisruptionBudgetSpec struct {
	MaxUnavailable int           `yaml:"maxUnavailable"`
	Selector       labelSelector `yaml:"selector"`
}

type hpaSpec struct {
	ScaleTargetRef crossVersionObjectReference `yaml:"scaleTargetRef"`
	MinReplicas    int                         `yaml:"minReplicas"`
	MaxReplicas    int                         `yaml:"maxReplicas"`
	Metrics        []hpaMetric                 `yaml:"metrics"`
	Behavior       hpaBehavior                 `yaml:"behavior"`
}

type crossVersionObjectReference struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Name       string `yaml:"name"`
}

type hpaMetric struct {
	Type     string            `yaml:"type"`
	Resource hpaResourceMetric `yaml:"resource"`
}

type hpaResourceMetric struct {
	Name   string    `yaml:"name"`
	Target hpaTarget `yaml:"target"`
}

type hpaTarget struct {
	Type               string `yaml:"type"`
	AverageUtilization int    `yaml:"averageUtilization"`
}

type hpaBehavior struct {
	ScaleUp   hpaRules `yaml:"scaleUp"`
	ScaleDown hpaRules `yaml:"scaleDown"`
}

type hpaRules struct {
	StabilizationWindowSeconds int         `yaml:"stabilizationWindowSeconds"`
	Policies                   []hpaPolicy `yaml:"policies"`
}

type hpaPolicy struct {
	Type          string `yaml:"type"`
	Value         int    `yaml:"value"`
	PeriodSeconds int    `yaml:"periodSeconds"`
}

type policyRule struct {
	APIGroups     []string `yaml:"apiGroups"`
	Resources     []string `yaml:"resources"`
	ResourceNames []string `yaml:"resourceNames"`
	Verbs         []string `yaml:"verbs"`
}

type roleRef struct {
	APIGroup string `yaml:"apiGroup"`
	Kind     string `yaml:"kind"`
	Name     string `yaml:"name"`
}

type subject struct {
	Kind      string `yaml:"kind"`
	Name      string `yaml:"name"`
	Namespace string `yaml:"namespace"`
}

type networkPolicySpec struct {
	PodSelector labelSelector       `yaml:"podSelector"`
	PolicyTypes []string            `yaml:"policyTypes"`
	Ingress     []networkPolicyRule `yaml:"ingress,omitempty"`
	Egress      []networkPolicyRule `yaml:"egress,omitempty"`
}

// networkPolicyRule is an ingress rule (From) or an egress rule (To).
type networkPolicyRule struct {
	From  []networkPolicyPeer `yaml:"from,omitempty"`
	To    []networkPolicyPeer `yaml:"to,omitempty"`
	Ports []networkPolicyPort `yaml:"ports,omitempty"`
}

type networkPolicyPeer struct {
	NamespaceSelector *labelSelector `yaml:"namespaceSelector,omitempty"`
	PodSelector       *labelSelector `yaml:"podSelector,omitempty"`
}

type networkPolicyPort struct {
	Protocol string `yaml:"protocol"`
	Port     int    `yaml:"port"`
}

type ingressSpec struct {
	Rules []ingressRule `yaml:"rules"`
}

type ingressRule struct {
	HTTP ingressHTTP `yaml:"http"`
}

type ingressHTTP struct {
	Paths []ingressPath `yaml:"paths"`
}

type ingressPath struct {
	Path     string         `yaml:"path"`
	PathType string         `yaml:"pathType"`
	Backend  ingressBackend `yaml:"backend"`
}

type ingressBackend struct {
	Service ingressServiceBackend `yaml:"service"`
}

type ingressServiceBackend struct {
	Name string             `yaml:"name"`
	Port ingressServicePort `yaml:"port"`
}

type ingressServicePort struct {
	Name string `yaml:"name"`
}
