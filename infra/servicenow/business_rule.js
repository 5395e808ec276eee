/*
 * Helpdesk Copilot: tell the bot when an incident it raised changes.
 *
 * Business rule on the incident table (global scope):
 *   When: after    Update: checked    Insert/Delete/Query: unchecked
 *   Advanced: checked    Order: 1000
 *   Condition:
 *     current.correlation_display == 'Helpdesk Copilot' &&
 *     (current.comments.changes() || current.state.changes())
 *
 * System properties it reads (create them under sys_properties):
 *   x_helpdesk.webhook_url       https://<bot host>/api/itsm/events
 *   x_helpdesk.webhook_secret    the same value as HELPDESK_ITSM_WEBHOOK_SECRET
 *                                (type password2, read roles: admin)
 *   x_helpdesk.integration_user  the user name the bot signs in to ServiceNow
 *                                with; its changes (the employee's replies and
 *                                clicks, a technician's update through the
 *                                bot) are then not posted back at all
 *
 * Each change is posted as JSON, signed with HMAC-SHA256 over
 * "<unix seconds>.<body>" (headers X-Helpdesk-Timestamp and
 * X-Helpdesk-Signature: sha256=<hex>), one event per part that changed:
 * event_id "<sys_id>:<sys_mod_count>:c" for a comment, ":s" for the state.
 * The bot records a change it makes itself under the same ids, so when
 * x_helpdesk.integration_user is not set the post of such a change is a
 * replay that the bot answers with 409: the employee hears of it once, and
 * not at all when they made it. The post is asynchronous, so saving an
 * incident never waits for the bot; a post the bot does not receive (the bot
 * is down) is not sent again, and the employee can still ask the bot where
 * the ticket stands.
 */
(function executeRule(current, previous /* null when async */) {
    var STATE_NEW = '1';
    var STATE_IN_PROGRESS = '2';
    var STATE_ON_HOLD = '3';
    var STATE_RESOLVED = '6';
    var STATE_CLOSED = '7';
    var HOLD_AWAITING_CALLER = '1';

    var url = gs.getProperty('x_helpdesk.webhook_url');
    var secret = gs.getProperty('x_helpdesk.webhook_secret');
    if (!url || !secret) {
        gs.warn('Helpdesk webhook: set x_helpdesk.webhook_url and x_helpdesk.webhook_secret');
        return;
    }
    if (gs.getUserName() == gs.getProperty('x_helpdesk.integration_user', '')) {
        return; // the bot made this change on the employee's behalf
    }

    var state = current.getValue('state');
    var before = previous ? previous.getValue('state') : '';
    var onHoldForCaller = state == STATE_ON_HOLD &&
        current.getValue('hold_reason') == HOLD_AWAITING_CALLER;
    var author = gs.getUserDisplayName();
    var events = [];

    if (current.comments.changes()) {
        events.push({
            suffix: 'c',
            type: onHoldForCaller ? 'question' : 'commented',
            comment: latestComment(current)
        });
    }
    if (current.state.changes()) {
        var change = stateChange(state, before);
        if (change) {
            events.push({suffix: 's', type: change.type, comment: change.comment});
        }
    }

    for (var i = 0; i < events.length; i++) {
        post(url, secret, {
            event_id: current.getUniqueValue() + ':' + current.getValue('sys_mod_count') +
                ':' + events[i].suffix,
            type: events[i].type,
            number: current.getValue('number'),
            sys_id: current.getUniqueValue(),
            correlation_id: current.getValue('correlation_id') || undefined,
            comment: events[i].comment || undefined,
            author: author,
            at: current.getValue('sys_updated_on') // UTC, YYYY-MM-DD HH:MM:SS
        });
    }

    function stateChange(now, was) {
        if (now == STATE_RESOLVED) {
            return {type: 'resolved', comment: current.getValue('close_notes')};
        }
        if (now == STATE_CLOSED) {
            return {type: 'closed', comment: ''};
        }
        var open = now == STATE_NEW || now == STATE_IN_PROGRESS || now == STATE_ON_HOLD;
        if (open && (was == STATE_RESOLVED || was == STATE_CLOSED)) {
            return {type: 'reopened', comment: ''};
        }
        if (onHoldForCaller && current.comments.changes()) {
            return null; // the question above already says it
        }
        return {type: 'state_changed', comment: 'Now: ' + current.state.getDisplayValue()};
    }

    function latestComment(record) {
        // "2026-03-02 14:30:00 - Alex Tech (Additional comments)\n<text>"
        var entry = String(record.comments.getJournalEntry(1) || '');
        var newline = entry.indexOf('\n');
        var text = newline >= 0 ? entry.substring(newline + 1) : entry;
        return text.replace(/^\s+|\s+$/g, '');
    }

    function post(endpoint, key, payload) {
        var body = asciiJson(payload);
        var timestamp = String(Math.floor(new GlideDateTime().getNumericValue() / 1000));
        var mac = new GlideCertificateEncryption().generateMac(
            GlideStringUtil.base64Encode(key), 'HmacSHA256', timestamp + '.' + body);
        try {
            var request = new sn_ws.RESTMessageV2();
            request.setEndpoint(endpoint);
            request.setHttpMethod('post');
            request.setRequestHeader('Content-Type', 'application/json');
            request.setRequestHeader('X-Helpdesk-Timestamp', timestamp);
            request.setRequestHeader('X-Helpdesk-Signature', 'sha256=' + base64ToHex(mac));
            request.setRequestBody(body);
            request.setHttpTimeout(10000);
            request.executeAsync();
        } catch (e) {
            gs.error('Helpdesk webhook: could not post ' + payload.event_id + ': ' + e);
        }
    }

    // Non-ASCII characters as \uXXXX escapes: the signed text and the bytes
    // on the wire are then the same whatever encoding either side assumes.
    function asciiJson(value) {
        return JSON.stringify(value).replace(/[\u007f-\uffff]/g, function (c) {
            return '\\u' + ('0000' + c.charCodeAt(0).toString(16)).slice(-4);
        });
    }

    // generateMac answers in base64; the bot expects lowercase hex.
    function base64ToHex(text) {
        var alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
        var hex = '';
        var bits = 0;
        var count = 0;
        for (var i = 0; i < text.length; i++) {
            var index = alphabet.indexOf(text.charAt(i));
            if (index < 0) {
                continue; // padding and line breaks
            }
            bits = (bits << 6) | index;
            count += 6;
            if (count >= 8) {
                count -= 8;
                var octet = (bits >> count) & 0xff;
                hex += (octet < 16 ? '0' : '') + octet.toString(16);
            }
        }
        return hex;
    }
})(current, previous);
