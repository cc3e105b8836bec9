// The alert rules of ops/alerts/alert-rules.yaml, as rendered for Azure Monitor by `npm run alerts:render`
// into ops/azure-monitor/alert-rules.json: loaded here as they are, so the Bicep never holds a second copy.

@description('Required. Prefix of the alert rule and action group names.')
param namePrefix string

@description('Required. Azure region of the alert rules.')
param location string

@description('Optional. Tags of every resource.')
param tags object = {}

@description('Required. Resource id of the Application Insights component the rules query.')
param applicationInsightsResourceId string

@description('Optional. E-mail addresses the action group notifies; empty: the rules fire with no notification.')
param alertEmails array = []

var alertRules = loadJsonContent('../../ops/azure-monitor/alert-rules.json').rules

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = {
  name: '${namePrefix}-ops'
  location: 'global'
  tags: tags
  properties: {
    groupShortName: 'billingops'
    enabled: true
    emailReceivers: [
      for (email, i) in alertEmails: {
        name: 'email-${i}'
        emailAddress: email
        useCommonAlertSchema: true
      }
    ]
  }
}

resource rules 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = [
  for rule in alertRules: {
    name: '${namePrefix}-${rule.name}'
    location: location
    tags: tags
    kind: 'LogAlert'
    properties: {
      displayName: rule.displayName
      description: rule.description
      severity: rule.severity
      enabled: true
      evaluationFrequency: rule.evaluationFrequency
      windowSize: rule.windowSize
      scopes: [applicationInsightsResourceId]
      criteria: rule.criteria
      autoMitigate: true
      actions: {
        actionGroups: [actionGroup.id]
        customProperties: { runbook: rule.runbook }
      }
    }
  }
]

@description('Resource id of the action group.')
output actionGroupResourceId string = actionGroup.id
