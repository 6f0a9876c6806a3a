BEGIN TRANSACTION;
CREATE TABLE alembic_version (
	version_num VARCHAR(32) NOT NULL, 
	CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)
);
INSERT INTO "alembic_version" VALUES('0007');
CREATE TABLE conversations (
        conversation_sid TEXT PRIMARY KEY,
        location_id TEXT NOT NULL,
        customer_phone TEXT NOT NULL,
        web2text_number TEXT NOT NULL,
        state TEXT NOT NULL,
        unread_count INTEGER NOT NULL DEFAULT 0,
        last_message_at TEXT,
        last_message_preview TEXT,
        opted_out INTEGER NOT NULL DEFAULT 0,
        version INTEGER NOT NULL,
        data TEXT NOT NULL
    );
INSERT INTO "conversations" VALUES('CHold1','L1','+13125550177','+13125550100','active',2,'2025-12-01T10:05:00+00:00','walnut please',0,5,'{"conversationSid": "CHold1"}');
CREATE TABLE leads (
        id INTEGER PRIMARY KEY,
        lead_id TEXT NOT NULL UNIQUE,
        retailer_id TEXT NOT NULL,
        location_id TEXT NOT NULL,
        conversation_sid TEXT,
        status TEXT NOT NULL,
        pipeline_status TEXT NOT NULL,
        assignee_id TEXT,
        assignee_name TEXT,
        name TEXT NOT NULL,
        phone TEXT NOT NULL,
        date_submitted TEXT NOT NULL,
        last_activity_at TEXT NOT NULL,
        first_staff_reply_at TEXT,
        possible_opt_out INTEGER NOT NULL DEFAULT 0,
        opted_out INTEGER NOT NULL DEFAULT 0,
        version INTEGER NOT NULL,
        data TEXT NOT NULL
    , activity_at TEXT NOT NULL DEFAULT '');
INSERT INTO "leads" VALUES(1,'lead-old-1','R1','L1','CHold1','ACTIVE','contacted',NULL,NULL,'Olga Oldschema','+13125550177','2025-12-01T10:00:00+00:00','2025-12-01T10:05:00+00:00',NULL,0,0,4,'{"leadId": "lead-old-1", "locationId": "L1", "customer": {"name": "Olga Oldschema",
          "phone": "+13125550177"}, "dateSubmitted": "2025-12-01T10:00:00+00:00",
          "status": "ACTIVE", "version": 4}','2025-12-01T10:05:00+00:00');
CREATE TABLE locations (
        location_id TEXT PRIMARY KEY,
        retailer_id TEXT NOT NULL,
        name TEXT NOT NULL,
        web2text_number TEXT NOT NULL,
        store_number TEXT,
        timezone TEXT,
        version INTEGER NOT NULL,
        data TEXT NOT NULL
    );
INSERT INTO "locations" VALUES('L1','R1','Downtown','+13125550100',NULL,'America/Chicago',3,'{"locationId": "L1"}');
CREATE TABLE "messages" (
        id INTEGER PRIMARY KEY,
        local_id TEXT NOT NULL UNIQUE,
        message_sid TEXT,
        idempotency_key TEXT,
        conversation_sid TEXT NOT NULL,
        location_id TEXT,
        idx INTEGER,
        author TEXT NOT NULL,
        author_kind TEXT NOT NULL,
        staff_id TEXT,
        staff_name TEXT,
        body TEXT NOT NULL,
        status TEXT NOT NULL,
        error_code INTEGER,
        error_reason TEXT,
        error_message TEXT,
        created_at TEXT NOT NULL,
        version INTEGER NOT NULL DEFAULT 0,
        outbox_id TEXT
    , media TEXT NOT NULL DEFAULT '[]');
INSERT INTO "messages" VALUES(1,'01OLD','IMold1',NULL,'CHold1','L1',NULL,'+13125550177','customer',NULL,NULL,'Do you carry walnut parquet?','delivered',NULL,NULL,NULL,'2025-12-01T10:05:00+00:00',2,NULL,'[]');
INSERT INTO "messages" VALUES(2,'01OLDPENDING',NULL,'IK-old-1','CHold1',NULL,NULL,'S1','staff',NULL,NULL,'We do!','pending',NULL,NULL,NULL,'2025-12-01T10:06:00+00:00',0,'OB-old-1','[]');
CREATE TABLE meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
INSERT INTO "meta" VALUES('cursor','c-41');
CREATE TABLE "outbox" (
        seq INTEGER PRIMARY KEY,
        outbox_id TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL,
        lane TEXT NOT NULL,
        conversation_sid TEXT,
        lead_id TEXT,
        idempotency_key TEXT NOT NULL,
        payload TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'pending'
            CHECK (state IN ('pending', 'inflight', 'failed')),
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at REAL NOT NULL DEFAULT 0,
        last_error TEXT,
        reason TEXT,
        error_message TEXT,
        created_at TEXT NOT NULL
    );
INSERT INTO "outbox" VALUES(1,'OB-old-1','send_message','c:CHold1','CHold1',NULL,'IK-old-1','{"body": "We do!", "localId": "01OLDPENDING"}','inflight',1,0.0,NULL,NULL,NULL,'2025-12-01T10:06:00+00:00');
CREATE INDEX ix_leads_conversation ON leads (conversation_sid);
CREATE TRIGGER leads_fts_ai AFTER INSERT ON leads BEGIN
        INSERT INTO leads_fts (rowid, name, phone) VALUES (new.id, new.name, new.phone);
    END;
CREATE TRIGGER leads_fts_ad AFTER DELETE ON leads BEGIN
        INSERT INTO leads_fts (leads_fts, rowid, name, phone)
            VALUES ('delete', old.id, old.name, old.phone);
    END;
CREATE TRIGGER leads_fts_au AFTER UPDATE OF name, phone ON leads BEGIN
        INSERT INTO leads_fts (leads_fts, rowid, name, phone)
            VALUES ('delete', old.id, old.name, old.phone);
        INSERT INTO leads_fts (rowid, name, phone) VALUES (new.id, new.name, new.phone);
    END;
CREATE INDEX ix_leads_activity ON leads (activity_at DESC, lead_id);
CREATE INDEX ix_leads_location_activity ON leads (location_id, activity_at DESC, lead_id);
CREATE TRIGGER leads_activity_ai AFTER INSERT ON leads BEGIN
        UPDATE leads SET activity_at = max(leads.last_activity_at, coalesce((SELECT c.last_message_at
        FROM conversations c WHERE c.conversation_sid = leads.conversation_sid), '')) WHERE id = new.id;
    END;
CREATE TRIGGER leads_activity_au AFTER UPDATE OF last_activity_at, conversation_sid
        ON leads BEGIN
        UPDATE leads SET activity_at = max(leads.last_activity_at, coalesce((SELECT c.last_message_at
        FROM conversations c WHERE c.conversation_sid = leads.conversation_sid), '')) WHERE id = new.id;
    END;
CREATE TRIGGER conversations_activity_ai AFTER INSERT ON conversations BEGIN
        UPDATE leads SET activity_at = max(last_activity_at, coalesce(new.last_message_at, ''))
            WHERE conversation_sid = new.conversation_sid;
    END;
CREATE TRIGGER conversations_activity_au AFTER UPDATE OF last_message_at
        ON conversations BEGIN
        UPDATE leads SET activity_at = max(last_activity_at, coalesce(new.last_message_at, ''))
            WHERE conversation_sid = new.conversation_sid;
    END;
CREATE UNIQUE INDEX ux_messages_sid ON messages (message_sid) WHERE message_sid IS NOT NULL;
CREATE INDEX ix_messages_thread ON messages (conversation_sid, created_at);
CREATE TRIGGER messages_fts_ad AFTER DELETE ON messages
        WHEN old.message_sid IS NOT NULL BEGIN
        INSERT INTO messages_fts (messages_fts, rowid, body) VALUES ('delete', old.id, old.body);
    END;
CREATE TRIGGER messages_fts_ai AFTER INSERT ON messages
        WHEN new.message_sid IS NOT NULL BEGIN
        INSERT INTO messages_fts (rowid, body) VALUES (new.id, new.body);
    END;
CREATE TRIGGER messages_fts_au AFTER UPDATE OF body ON messages
        WHEN old.message_sid IS NOT NULL BEGIN
        INSERT INTO messages_fts (messages_fts, rowid, body) VALUES ('delete', old.id, old.body);
        INSERT INTO messages_fts (rowid, body) VALUES (new.id, new.body);
    END;
CREATE TRIGGER messages_fts_confirmed AFTER UPDATE OF message_sid ON messages
        WHEN old.message_sid IS NULL AND new.message_sid IS NOT NULL BEGIN
        INSERT INTO messages_fts (rowid, body) VALUES (new.id, new.body);
    END;
CREATE INDEX ix_conversations_location ON conversations (location_id, unread_count);
CREATE INDEX ix_leads_location_status ON leads (location_id, status);
CREATE VIRTUAL TABLE leads_fts USING fts5(
        name, phone, content='leads', content_rowid='id', tokenize='trigram');
INSERT INTO leads_fts (rowid, name, phone) SELECT id, name, phone FROM leads WHERE id IN (1);
CREATE VIRTUAL TABLE messages_fts USING fts5(
        body, content='messages', content_rowid='id', tokenize='trigram');
INSERT INTO messages_fts (rowid, body) SELECT id, body FROM messages WHERE id IN (1);
COMMIT;
