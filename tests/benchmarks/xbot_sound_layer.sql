-- A hand-written sound compatibility layer for fixtures/xbot (benchmark input).
BEGIN;
SET LOCAL lock_timeout = '5s';
-- Writers queue behind this lock instead of slipping rows in between the two backfills.
LOCK TABLE posted_decisions, real_tweet_metrics IN ACCESS EXCLUSIVE MODE;
INSERT INTO posted_tweets_comprehensive
  (id, decision_id, tweet_id, tweet_text, content_type, topic, content_style, hook_type,
   posting_hour, quality_score, predicted_engagement_rate, bandit_arm, generation_source,
   posted_at, created_at)
SELECT id, decision_id, tweet_id, content, decision_type, topic, style, hook_type,
       posting_hour, quality_score, predicted_er, bandit_arm, generation_source,
       posted_at, created_at
FROM posted_decisions;
INSERT INTO tweet_engagement_metrics_comprehensive
  (id, tweet_id, likes, retweets, replies, impressions, bookmarks, quotes, follows_gained,
   engagement_rate, collection_phase, is_verified, collected_at)
SELECT id, tweet_id, likes, retweets, replies, impressions, bookmarks, quotes, followers_gained,
       engagement_rate, collection_phase, is_verified, collected_at
FROM real_tweet_metrics;
SELECT setval(pg_get_serial_sequence('posted_tweets_comprehensive', 'id'), last_value, is_called)
FROM posted_decisions_id_seq;
SELECT setval(pg_get_serial_sequence('tweet_engagement_metrics_comprehensive', 'id'), last_value, is_called)
FROM real_tweet_metrics_id_seq;
ALTER TABLE real_tweet_metrics RENAME TO real_tweet_metrics_legacy;
ALTER TABLE posted_decisions RENAME TO posted_decisions_legacy;
CREATE VIEW posted_decisions WITH (security_invoker = true) AS
SELECT id, decision_id, tweet_id, tweet_text AS content, content_type AS decision_type, topic,
       content_style AS style, hook_type, posting_hour, quality_score,
       predicted_engagement_rate AS predicted_er, bandit_arm, generation_source, posted_at, created_at
FROM posted_tweets_comprehensive;
CREATE VIEW real_tweet_metrics WITH (security_invoker = true) AS
SELECT id, tweet_id, likes, retweets, replies, impressions, bookmarks, quotes,
       follows_gained AS followers_gained, engagement_rate, collection_phase, is_verified, collected_at
FROM tweet_engagement_metrics_comprehensive;
-- View defaults: `UPDATE … SET c = DEFAULT` and VALUES (DEFAULT) behave as on the legacy tables.
ALTER VIEW posted_decisions ALTER COLUMN id
  SET DEFAULT nextval(pg_get_serial_sequence('posted_tweets_comprehensive', 'id')::regclass);
ALTER VIEW posted_decisions ALTER COLUMN decision_id SET DEFAULT gen_random_uuid();
ALTER VIEW posted_decisions ALTER COLUMN decision_type SET DEFAULT 'single';
ALTER VIEW posted_decisions ALTER COLUMN generation_source SET DEFAULT 'ai';
ALTER VIEW posted_decisions ALTER COLUMN posted_at SET DEFAULT now();
ALTER VIEW posted_decisions ALTER COLUMN created_at SET DEFAULT now();
ALTER VIEW real_tweet_metrics ALTER COLUMN id
  SET DEFAULT nextval(pg_get_serial_sequence('tweet_engagement_metrics_comprehensive', 'id')::regclass);
ALTER VIEW real_tweet_metrics ALTER COLUMN likes SET DEFAULT 0;
ALTER VIEW real_tweet_metrics ALTER COLUMN retweets SET DEFAULT 0;
ALTER VIEW real_tweet_metrics ALTER COLUMN replies SET DEFAULT 0;
ALTER VIEW real_tweet_metrics ALTER COLUMN impressions SET DEFAULT 0;
ALTER VIEW real_tweet_metrics ALTER COLUMN bookmarks SET DEFAULT 0;
ALTER VIEW real_tweet_metrics ALTER COLUMN quotes SET DEFAULT 0;
ALTER VIEW real_tweet_metrics ALTER COLUMN followers_gained SET DEFAULT 0;
ALTER VIEW real_tweet_metrics ALTER COLUMN collection_phase SET DEFAULT 'T+1h';
ALTER VIEW real_tweet_metrics ALTER COLUMN is_verified SET DEFAULT false;
ALTER VIEW real_tweet_metrics ALTER COLUMN collected_at SET DEFAULT now();
GRANT SELECT ON posted_decisions, real_tweet_metrics TO anon, authenticated;
GRANT SELECT, INSERT, UPDATE, DELETE ON posted_decisions, real_tweet_metrics TO service_role;
GRANT USAGE ON SEQUENCE posted_tweets_comprehensive_id_seq, tweet_engagement_metrics_comprehensive_id_seq
  TO service_role;
COMMIT;
