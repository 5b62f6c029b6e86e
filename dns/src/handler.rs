//! The hickory-server request handler: cluster names from the [`Zone`],
//! everything else through the [`Forwarder`] (SERVFAIL when there is none).

use std::sync::Arc;

use async_trait::async_trait;
use hickory_proto::op::{Metadata, OpCode, ResponseCode};
use hickory_proto::rr::Record;
use hickory_server::net::runtime::Time;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponseBuilder;

use crate::forward::Forwarder;
use crate::metrics::DnsMetrics;
use crate::zone::{Answer, Zone};

pub struct Handler {
    pub zone: Arc<Zone>,
    pub forwarder: Option<Arc<Forwarder>>,
    pub metrics: Arc<DnsMetrics>,
}

/// Records of one response, by section.
#[derive(Default)]
struct Sections {
    answers: Vec<Record>,
    authorities: Vec<Record>,
    additionals: Vec<Record>,
}

#[async_trait]
impl RequestHandler for Handler {
    async fn handle_request<R: ResponseHandler, T: Time>(&self, request: &Request, mut response: R) -> ResponseInfo {
        let mut meta = Metadata::response_from_request(&request.metadata);
        meta.recursion_available = true;
        let builder = match &request.edns {
            Some(edns) => {
                let mut b = MessageResponseBuilder::from_message_request(request);
                b.edns(edns);
                b
            }
            None => MessageResponseBuilder::from_message_request(request),
        };
        let (code, s) = match (request.metadata.op_code, request.request_info()) {
            (OpCode::Query, Ok(info)) => self.answer(info.query.original()).await,
            (OpCode::Query, Err(_)) => (ResponseCode::FormErr, Sections::default()),
            _ => (ResponseCode::NotImp, Sections::default()),
        };
        meta.response_code = code;
        self.metrics.responses.with(&[&code.to_string()]).inc();
        let msg = builder.build(meta, s.answers.iter(), s.authorities.iter(), std::iter::empty(), s.additionals.iter());
        match response.send_response(msg).await {
            Ok(info) => info,
            Err(e) => {
                tracing::debug!(error = %e, "sending a response failed");
                let mut m = Metadata::response_from_request(&request.metadata);
                m.response_code = ResponseCode::ServFail;
                ResponseInfo::from(hickory_proto::op::Header { metadata: m, counts: Default::default() })
            }
        }
    }
}

impl Handler {
    async fn answer(&self, q: &hickory_proto::op::Query) -> (ResponseCode, Sections) {
        let ascii = q.name().to_ascii();
        let name = ascii.trim_end_matches('.').to_ascii_lowercase();
        match self.zone.lookup(&name, q.query_type()) {
            Answer::Records { answers, additionals } => (ResponseCode::NoError, Sections { answers, additionals, ..Default::default() }),
            Answer::NoData => (ResponseCode::NoError, Sections { authorities: vec![self.zone.soa().clone()], ..Default::default() }),
            Answer::NxDomain => (ResponseCode::NXDomain, Sections { authorities: vec![self.zone.soa().clone()], ..Default::default() }),
            Answer::NotOurs => self.forward(q).await,
        }
    }

    async fn forward(&self, q: &hickory_proto::op::Query) -> (ResponseCode, Sections) {
        let Some(f) = &self.forwarder else { return (ResponseCode::ServFail, Sections::default()) };
        match f.resolve(q).await {
            Ok((msg, cached)) => {
                if cached {
                    self.metrics.cache_hits.inc();
                } else {
                    self.metrics.forwarded.inc();
                }
                let s = Sections { answers: msg.answers.clone(), authorities: msg.authorities.clone(), additionals: msg.additionals.clone() };
                (msg.metadata.response_code, s)
            }
            Err(e) => {
                tracing::debug!(error = %e, "forwarding failed");
                (ResponseCode::ServFail, Sections::default())
            }
        }
    }
}
