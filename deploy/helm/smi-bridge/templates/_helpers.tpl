{{/*
Names and labels shared by every template.
*/}}

{{- define "smi-bridge.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
The release's full name: the release name when it already contains the
chart name, else "<release>-<chart>"; at most 63 characters (a label value).
*/}}
{{- define "smi-bridge.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "smi-bridge.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Selector labels: stable for the life of the release. */}}
{{- define "smi-bridge.selectorLabels" -}}
app.kubernetes.io/name: {{ include "smi-bridge.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "smi-bridge.labels" -}}
helm.sh/chart: {{ include "smi-bridge.chart" . }}
{{ include "smi-bridge.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: smi-bridge
{{- end -}}

{{- define "smi-bridge.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "smi-bridge.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "smi-bridge.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* The meshes whose objects the controller may write. */}}
{{- define "smi-bridge.istio" -}}
{{- if has .Values.mesh (list "auto" "istio") -}}true{{- end -}}
{{- end -}}
{{- define "smi-bridge.linkerd" -}}
{{- if has .Values.mesh (list "auto" "linkerd") -}}true{{- end -}}
{{- end -}}
