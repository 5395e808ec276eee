// Helpdesk Copilot on Azure: Bot Service (Teams channel), App Service running the
// bot container, PostgreSQL Flexible Server (checkpoints and app data), AI Search
// (knowledge), Key Vault (secrets referenced from app settings).
//
//   az deployment group create -g RG -f infra/main.bicep \
//     -p botAppId=<entra-app-id> botAppPassword=<secret> image=<registry>/helpdesk:<tag> \
//        postgresAdminPassword=<secret> allowedTenants=<tenant-id>

@description('Short name used as a prefix for every resource.')
@minLength(3)
@maxLength(16)
param name string = 'helpdesk'

param location string = resourceGroup().location

@description('Entra ID app registration (client) id of the bot.')
param botAppId string

@secure()
@description('Client secret of the bot app registration.')
param botAppPassword string

@description('SingleTenant is what new Azure Bots use; MultiTenant is deprecated for new bots.')
@allowed(['SingleTenant', 'MultiTenant'])
param botAppType string = 'SingleTenant'

@description('Container image of the bot, e.g. myregistry.azurecr.io/helpdesk:1.0.0.')
param image string

@description('Comma-separated Entra tenant ids allowed to use the bot.')
param allowedTenants string = tenant().tenantId

param postgresAdminUser string = 'helpdesk'

@secure()
param postgresAdminPassword string

@description('Azure OpenAI endpoint; empty keeps the offline model.')
param azureOpenAiEndpoint string = ''
param azureOpenAiDeployment string = 'gpt-4o-mini'

var suffix = uniqueString(resourceGroup().id)
var appName = '${name}-bot-${suffix}'

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: take('${name}kv${suffix}', 24)
  location: location
  properties: {
    tenantId: tenant().tenantId
    sku: { family: 'A', name: 'standard' }
    enableRbacAuthorization: true
    enableSoftDelete: true
  }
}

resource botSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: 'bot-app-password'
  properties: { value: botAppPassword }
}

resource pgSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: 'database-url'
  properties: {
    value: 'postgresql://${postgresAdminUser}:${postgresAdminPassword}@${postgres.properties.fullyQualifiedDomainName}:5432/helpdesk?sslmode=require'
  }
}

resource postgres 'Microsoft.DBforPostgreSQL/flexibleServers@2022-12-01' = {
  name: '${name}-pg-${suffix}'
  location: location
  sku: { name: 'Standard_B1ms', tier: 'Burstable' }
  properties: {
    version: '16'
    administratorLogin: postgresAdminUser
    administratorLoginPassword: postgresAdminPassword
    storage: { storageSizeGB: 32 }
    backup: { backupRetentionDays: 7, geoRedundantBackup: 'Disabled' }
  }
}

resource postgresDb 'Microsoft.DBforPostgreSQL/flexibleServers/databases@2022-12-01' = {
  parent: postgres
  name: 'helpdesk'
}

resource postgresAzure 'Microsoft.DBforPostgreSQL/flexibleServers/firewallRules@2022-12-01' = {
  parent: postgres
  name: 'AllowAzureServices'
  properties: { startIpAddress: '0.0.0.0', endIpAddress: '0.0.0.0' }
}

resource search 'Microsoft.Search/searchServices@2023-11-01' = {
  name: '${name}-search-${suffix}'
  location: location
  sku: { name: 'basic' }
  properties: { replicaCount: 1, partitionCount: 1, semanticSearch: 'free' }
}

resource searchKey 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: 'search-api-key'
  properties: { value: search.listAdminKeys().primaryKey }
}

resource plan 'Microsoft.Web/serverfarms@2023-01-01' = {
  name: '${name}-plan-${suffix}'
  location: location
  kind: 'linux'
  sku: { name: 'P1v3', capacity: 2 }
  properties: { reserved: true }
}

resource app 'Microsoft.Web/sites@2023-01-01' = {
  name: appName
  location: location
  identity: { type: 'SystemAssigned' }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    siteConfig: {
      linuxFxVersion: 'DOCKER|${image}'
      alwaysOn: true
      healthCheckPath: '/readyz'
      minTlsVersion: '1.2'
      appSettings: [
        { name: 'WEBSITES_PORT', value: '8000' }
        { name: 'MICROSOFT_APP_ID', value: botAppId }
        { name: 'MICROSOFT_APP_TYPE', value: botAppType }
        { name: 'MICROSOFT_APP_TENANT_ID', value: tenant().tenantId }
        { name: 'MICROSOFT_APP_PASSWORD', value: '@Microsoft.KeyVault(SecretUri=${botSecret.properties.secretUri})' }
        { name: 'HELPDESK_ALLOWED_TENANTS', value: allowedTenants }
        { name: 'HELPDESK_DATABASE_URL', value: '@Microsoft.KeyVault(SecretUri=${pgSecret.properties.secretUri})' }
        { name: 'HELPDESK_KNOWLEDGE_BACKEND', value: 'azure' }
        { name: 'HELPDESK_SEARCH_ENDPOINT', value: 'https://${search.name}.search.windows.net' }
        { name: 'HELPDESK_SEARCH_API_KEY', value: '@Microsoft.KeyVault(SecretUri=${searchKey.properties.secretUri})' }
        { name: 'HELPDESK_MODEL_PROVIDER', value: empty(azureOpenAiEndpoint) ? 'offline' : 'azure' }
        { name: 'HELPDESK_AZURE_OPENAI_ENDPOINT', value: azureOpenAiEndpoint }
        { name: 'HELPDESK_MODEL_NAME', value: azureOpenAiDeployment }
        { name: 'HELPDESK_LOG_FORMAT', value: 'json' }
      ]
    }
  }
}

// The web app reads its secrets from the vault with its managed identity.
resource vaultReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: vault
  name: guid(vault.id, app.id, 'kv-secrets-user')
  properties: {
    principalId: app.identity.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId(
      'Microsoft.Authorization/roleDefinitions', '4633458b-17de-408a-b874-0445c86b69e6')
  }
}

resource bot 'Microsoft.BotService/botServices@2022-09-15' = {
  name: '${name}-${suffix}'
  location: 'global'
  kind: 'azurebot'
  sku: { name: 'S1' }
  properties: {
    displayName: 'Helpdesk'
    endpoint: 'https://${app.properties.defaultHostName}/api/messages'
    msaAppId: botAppId
    msaAppType: botAppType
    msaAppTenantId: botAppType == 'SingleTenant' ? tenant().tenantId : ''
  }
}

resource teams 'Microsoft.BotService/botServices/channels@2022-09-15' = {
  parent: bot
  name: 'MsTeamsChannel'
  location: 'global'
  properties: {
    channelName: 'MsTeamsChannel'
    properties: { isEnabled: true }
  }
}

output messagingEndpoint string = bot.properties.endpoint
output searchEndpoint string = 'https://${search.name}.search.windows.net'
