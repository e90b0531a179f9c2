//! rumqttc client options from [`MqttSettings`], including the Last Will.

use rumqttc::{LastWill, MqttOptions, QoS};

use crate::settings::MqttSettings;

/// Most QoS 1 publishes on the wire at once (rumqttc `inflight`).
pub(crate) const MAX_INFLIGHT: u16 = 100;
/// Largest packet the agent sends (batches and catalogues of large maps) or accepts.
const MAX_PACKET_BYTES: usize = 4 * 1024 * 1024;

/// Options for a clean-session connection (see the `forward` module docs for why) whose
/// Last Will is `will` (a retained offline status).
pub(crate) fn mqtt_options(
    settings: &MqttSettings,
    status_topic: &str,
    will: Vec<u8>,
) -> MqttOptions {
    let mut o = MqttOptions::new(
        settings.client_id.clone(),
        settings.host.clone(),
        settings.port,
    );
    o.set_keep_alive(settings.keep_alive)
        .set_clean_session(true)
        .set_inflight(MAX_INFLIGHT)
        .set_max_packet_size(MAX_PACKET_BYTES, MAX_PACKET_BYTES)
        .set_last_will(LastWill::new(status_topic, will, QoS::AtLeastOnce, true));
    if let Some(c) = &settings.credentials {
        o.set_credentials(c.username.clone(), c.password.clone());
    }
    o
}
