// Runs infra/servicenow/business_rule.js under Node with the Glide APIs it uses,
// for one incident update described as JSON, and prints the requests it made.
//
// node servicenow_rule.js RULE_PATH SCENARIO_JSON
//
// The HMAC is real (Node's crypto); everything else answers from the scenario.
'use strict';

const crypto = require('crypto');
const fs = require('fs');
const vm = require('vm');

const [rulePath, scenarioJson] = process.argv.slice(2);
const scenario = JSON.parse(scenarioJson);
const sent = [];
const logs = [];

function record(fields, changed, journal) {
    return {
        getValue: (name) => (name in fields ? String(fields[name]) : null),
        getUniqueValue: () => fields.sys_id,
        comments: {
            changes: () => changed.includes('comments'),
            getJournalEntry: () => journal || '',
        },
        state: {
            changes: () => changed.includes('state'),
            getDisplayValue: () => scenario.state_label || '',
        },
    };
}

function RESTMessageV2() {
    const request = {headers: {}};
    this.setEndpoint = (url) => { request.url = url; };
    this.setHttpMethod = (method) => { request.method = method; };
    this.setRequestHeader = (name, value) => { request.headers[name] = value; };
    this.setRequestBody = (body) => { request.body = body; };
    this.setHttpTimeout = (ms) => { request.timeout_ms = ms; };
    this.executeAsync = () => { sent.push(request); };
}

const context = {
    current: record(scenario.current, scenario.changed, scenario.journal),
    previous: record(scenario.previous, [], ''),
    gs: {
        getProperty: (name, fallback) =>
            name in scenario.properties ? scenario.properties[name] : fallback,
        getUserName: () => scenario.user_name,
        getUserDisplayName: () => scenario.user_display_name,
        warn: (message) => logs.push('warn: ' + message),
        error: (message) => logs.push('error: ' + message),
    },
    GlideDateTime: function () { this.getNumericValue = () => scenario.now_ms; },
    GlideCertificateEncryption: function () {
        this.generateMac = (keyBase64, algorithm, data) => {
            if (algorithm !== 'HmacSHA256') throw new Error('unexpected ' + algorithm);
            return crypto.createHmac('sha256', Buffer.from(keyBase64, 'base64'))
                .update(data, 'utf8').digest('base64');
        };
    },
    GlideStringUtil: {
        base64Encode: (text) => Buffer.from(text, 'utf8').toString('base64'),
    },
    sn_ws: {RESTMessageV2},
};

vm.runInNewContext(fs.readFileSync(rulePath, 'utf8'), context, {filename: rulePath});
process.stdout.write(JSON.stringify({sent, logs}));
