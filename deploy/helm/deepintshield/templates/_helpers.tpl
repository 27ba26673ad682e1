{{- define "deepintshield.fullname" -}}
{{- default .Release.Name .Values.fullnameOverride -}}
{{- end -}}

{{- define "deepintshield.labels" -}}
app.kubernetes.io/name: deepintshield
app.kubernetes.io/component: gateway
{{- end -}}
