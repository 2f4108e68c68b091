{{/* Names */}}
{{- define "civicgrid.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "civicgrid.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* selectorLabels: pass (dict "ctx" $ "component" "api") */}}
{{- define "civicgrid.selectorLabels" -}}
app.kubernetes.io/name: {{ .ctx.Chart.Name }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "civicgrid.image" -}}
{{ printf "%s:%s" .Values.image.repository .Values.image.tag }}
{{- end -}}

{{- define "civicgrid.secretName" -}}
{{- required "secrets.existingSecret: the name of the Secret with api-jwt, mqtt-gateway, db-app and db-superuser (the chart ships no secret values; deploy/README.md)" .Values.secrets.existingSecret -}}
{{- end -}}

{{- define "civicgrid.kafkaBootstrap" -}}
{{- if .Values.kafka.enabled -}}
{{- $fullname := include "civicgrid.fullname" . -}}
{{- $port := ternary 9094 9092 .Values.kafka.tls.enabled -}}
{{- $servers := list -}}
{{- range $i := until (int .Values.kafka.replicas) -}}
{{- $servers = append $servers (printf "%s-kafka-%d.%s-kafka-headless.%s.svc.cluster.local:%d" $fullname $i $fullname $.Release.Namespace $port) -}}
{{- end -}}
{{- join "," $servers -}}
{{- else -}}
{{- required "kafka.external.bootstrapServers (kafka.enabled is false)" .Values.kafka.external.bootstrapServers -}}
{{- end -}}
{{- end -}}

{{- define "civicgrid.dbUrl" -}}
{{- if .Values.timescaledb.enabled -}}
{{- printf "postgresql://civicgrid@%s-timescaledb.%s.svc.cluster.local:5432/civicgrid" (include "civicgrid.fullname" .) .Release.Namespace -}}
{{- else -}}
{{- required "timescaledb.externalUrl (timescaledb.enabled is false)" .Values.timescaledb.externalUrl -}}
{{- end -}}
{{- end -}}

{{/* The environment every civicgrid process shares: connections; secrets come from files (civicgridVolumeMounts). */}}
{{- define "civicgrid.env" -}}
- name: CIVICGRID_CONFIG
  value: /etc/civicgrid/civicgrid.toml
- name: CIVICGRID_MQTT__HOST
  value: {{ printf "%s-mosquitto.%s.svc.cluster.local" (include "civicgrid.fullname" .) .Release.Namespace }}
- name: CIVICGRID_MQTT__PORT
  value: "1883"
- name: CIVICGRID_MQTT__USERNAME
  value: civicgrid-gateway
- name: CIVICGRID_KAFKA__BOOTSTRAP_SERVERS
  value: {{ include "civicgrid.kafkaBootstrap" . | quote }}
{{- if .Values.kafka.enabled }}
- name: CIVICGRID_KAFKA__REPLICATION_FACTOR
  value: {{ min 3 (int .Values.kafka.replicas) | quote }}
{{- if .Values.kafka.tls.enabled }}
- name: CIVICGRID_KAFKA__SECURITY_PROTOCOL
  value: SSL
- name: CIVICGRID_KAFKA__SSL_CA_FILE
  value: /etc/civicgrid/kafka-ca/ca.crt
{{- end }}
{{- else }}
- name: CIVICGRID_KAFKA__REPLICATION_FACTOR
  value: {{ .Values.kafka.external.replicationFactor | quote }}
- name: CIVICGRID_KAFKA__SECURITY_PROTOCOL
  value: {{ .Values.kafka.external.securityProtocol | quote }}
{{- if .Values.kafka.external.caSecret }}
- name: CIVICGRID_KAFKA__SSL_CA_FILE
  value: /etc/civicgrid/kafka-ca/ca.crt
{{- end }}
{{- if .Values.kafka.external.saslMechanism }}
- name: CIVICGRID_KAFKA__SASL_MECHANISM
  value: {{ .Values.kafka.external.saslMechanism | quote }}
- name: CIVICGRID_KAFKA__SASL_USERNAME
  value: {{ required "kafka.external.saslUsername" .Values.kafka.external.saslUsername | quote }}
- name: CIVICGRID_KAFKA__SASL_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ required "kafka.external.saslPasswordSecret" .Values.kafka.external.saslPasswordSecret }}
      key: sasl-password
{{- end }}
{{- end }}
- name: CIVICGRID_DB__URL
  value: {{ include "civicgrid.dbUrl" . | quote }}
{{- end -}}

{{/* Volumes of a civicgrid pod: writable state dir, /tmp, settings, the platform secrets as files. */}}
{{- define "civicgrid.volumes" -}}
- name: state
  emptyDir: {}
- name: tmp
  emptyDir: {}
- name: config
  configMap:
    name: {{ include "civicgrid.fullname" . }}-config
- name: platform-secrets
  secret:
    secretName: {{ include "civicgrid.secretName" . }}
    defaultMode: 0440   # with the pod's fsGroup: readable by the service's group only
    items:
      - {key: api-jwt, path: api-jwt}
      - {key: mqtt-gateway, path: mqtt-gateway}
      - {key: db-app, path: db-app}
{{- if or (and .Values.kafka.enabled .Values.kafka.tls.enabled) (and (not .Values.kafka.enabled) .Values.kafka.external.caSecret) }}
- name: kafka-ca
  secret:
    secretName: {{ if .Values.kafka.enabled }}{{ .Values.kafka.tls.secretName }}{{ else }}{{ .Values.kafka.external.caSecret }}{{ end }}
    items:
      - {key: ca.crt, path: ca.crt}
{{- end }}
{{- end -}}

{{- define "civicgrid.volumeMounts" -}}
- {name: state, mountPath: /var/lib/civicgrid}
- {name: tmp, mountPath: /tmp}
- {name: config, mountPath: /etc/civicgrid/civicgrid.toml, subPath: civicgrid.toml, readOnly: true}
- {name: platform-secrets, mountPath: /var/lib/civicgrid/secrets, readOnly: true}
{{- if or (and .Values.kafka.enabled .Values.kafka.tls.enabled) (and (not .Values.kafka.enabled) .Values.kafka.external.caSecret) }}
- {name: kafka-ca, mountPath: /etc/civicgrid/kafka-ca, readOnly: true}
{{- end }}
{{- end -}}

{{/* Pod-level settings shared by every pod of the chart. */}}
{{- define "civicgrid.podCommon" -}}
enableServiceLinks: false
automountServiceAccountToken: false
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* An init container that waits until the schema is migrated and every topic exists (the prepare Job). */}}
{{- define "civicgrid.waitReady" -}}
- name: wait-ready
  image: {{ include "civicgrid.image" . }}
  imagePullPolicy: {{ .Values.image.pullPolicy }}
  args: [civicgrid-deploy, wait-ready]
  env:
    {{- include "civicgrid.env" . | nindent 4 }}
  volumeMounts:
    {{- include "civicgrid.volumeMounts" . | nindent 4 }}
  securityContext:
    {{- toYaml .Values.securityContext | nindent 4 }}
  resources:
    requests: {cpu: 50m, memory: 128Mi}
    limits: {memory: 256Mi}
{{- end -}}
